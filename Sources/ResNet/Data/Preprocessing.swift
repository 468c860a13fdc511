/// How a decoded image becomes a network input: the `resnet.preprocess` contract of a checkpoint.
/// Convert to `color`, resize the shorter side to `resize` (Pillow bilinear), center-crop to
/// `height` × `width`, scale to [0, 1], subtract `mean`, divide by `std` — torchvision's
/// `Resize`, `CenterCrop`, `ToTensor`, `Normalize`.
public struct Preprocessing: Sendable, Equatable {
  /// Gray or RGB input.
  public var color: ColorMode
  /// Shorter side after resizing, or nil to leave the size alone (the crop still applies).
  public var resize: Int?
  /// The network's input size.
  public var height: Int
  public var width: Int
  /// Per-channel mean and standard deviation of the [0, 1] pixel values.
  public var mean: [Float]
  public var std: [Float]

  /// Preprocessing to `color` images of `height` × `width`.
  public init(
    color: ColorMode, resize: Int? = nil, height: Int, width: Int, mean: [Float], std: [Float]
  ) {
    precondition(mean.count == color.channels && std.count == color.channels)
    precondition(std.allSatisfy { $0 > 0 } && height > 0 && width > 0)
    self.color = color
    self.resize = resize
    self.height = height
    self.width = width
    self.mean = mean
    self.std = std
  }

  /// Channels of the network input.
  public var channels: Int { color.channels }

  /// Colour conversion, resize and center crop: the 8-bit image that normalization then turns into
  /// floats (and that augmentation, in training, perturbs first).
  ///
  /// Only the part of the resized image that the crop keeps is computed, so the work and memory stay
  /// bounded by the input and the crop even for extreme aspect ratios (where resizing a 1-pixel-wide
  /// strip's shorter side to 256 would otherwise make an image of billions of pixels).
  public func prepare(_ image: Image) -> Image {
    let converted = image.converted(to: color)
    guard let resize, min(converted.width, converted.height) != resize else {
      return converted.centerCropped(width: width, height: height)
    }
    let (w, h) = converted.sizeAfterResizing(shorterSide: resize)
    // The crop's offsets in the resized image (as `centerCropped`), and the part of it inside.
    let left = Int((Double(w - width) / 2).rounded(.toNearestOrEven))
    let top = Int((Double(h - height) / 2).rounded(.toNearestOrEven))
    let columns = max(0, left)..<min(w, left + width)
    let rows = max(0, top)..<min(h, top + height)
    let window = converted.resized(width: w, height: h, columns: columns, rows: rows)
    return window.cropped(
      left: left - columns.lowerBound, top: top - rows.lowerBound, width: width, height: height)
  }
}

/// Random perturbations for training, applied after `Preprocessing.prepare`: a random crop of the
/// input size from the image zero-padded by `cropPadding` on each side (torchvision's
/// `RandomCrop(size, padding)`), then a horizontal flip with probability ½.
public struct Augmentation: Sendable, Equatable {
  /// Padding for the random crop; 0 turns it off.
  public var cropPadding: Int
  /// Whether to flip half of the images left to right.
  public var horizontalFlip: Bool

  /// No augmentation.
  public static let none = Augmentation(cropPadding: 0, horizontalFlip: false)

  /// An augmentation.
  public init(cropPadding: Int, horizontalFlip: Bool) {
    precondition(cropPadding >= 0)
    self.cropPadding = cropPadding
    self.horizontalFlip = horizontalFlip
  }

  /// `image` perturbed with the random choices of `generator` (crop offsets first, then the flip).
  public func apply(_ image: Image, using generator: inout SeededGenerator) -> Image {
    var out = image
    if cropPadding > 0 {
      let span = 2 * cropPadding + 1
      let left = generator.next(below: span) - cropPadding
      let top = generator.next(below: span) - cropPadding
      out = out.cropped(left: left, top: top, width: image.width, height: image.height)
    }
    if horizontalFlip && generator.nextUniform() < 0.5 {
      out = out.flippedHorizontally()
    }
    return out
  }
}
