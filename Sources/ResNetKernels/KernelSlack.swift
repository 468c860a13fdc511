import CKernels

/// Floats in a 64-byte cache line: scratch parts start on whole lines.
let cacheLineFloats = 16
/// Floats past a row's (or a buffer's) end that the C kernels' whole-vector loads and stores may reach
/// (`RN_VECTOR_SLACK`): buffers they read or write by whole vectors carry this much slack.
let vectorSlack = Int(RN_VECTOR_SLACK)
/// Floats before a row's first tile and after its last that `rn_winograd_output` reads
/// (`RN_WINOGRAD_OUTPUT_READ_SLACK`).
let winogradOutputReadSlack = Int(RN_WINOGRAD_OUTPUT_READ_SLACK)
