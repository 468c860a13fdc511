// The public library: everything in ResNetKernels (tensors, GEMM, im2col/col2im, the thread pool)
// is part of `import ResNet`; the data, layer, model and training areas build on it.
@_exported import ResNetKernels
