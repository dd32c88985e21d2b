import Foundation

/// A folder of images with one sub-folder per class, read as TensorFlow's
/// `retrain.py` reads it: classes are the sub-folders in sorted order, each
/// labelled by its name lowercased with every run of other characters turned
/// into one space; JPEG and PNG files (by extension) are the images, sorted by
/// name; other files are skipped and counted.
///
/// The split into training, validation and testing sets is `retrain.py`'s:
/// the SHA-1 of the file name (anything from `_nohash_` on removed) taken
/// modulo 2^27, scaled to a percentage, decides — so an image stays in its set
/// however many images are added, and `name_nohash_1.jpg`, `name_nohash_2.jpg`
/// stay together.
public struct ImageFolder: Sendable {
    public enum Subset: String, Sendable, CaseIterable {
        case training, validation, testing
    }

    public struct Image: Sendable, Equatable {
        public var path: String
        public var label: Int
        public var subset: Subset
    }

    public let directory: String
    /// One label per class, e.g. "golden retriever" for the folder "Golden_Retriever".
    public let classNames: [String]
    /// The sub-folders' names, in class order.
    public let classFolders: [String]
    public let images: [Image]
    /// Files that are not JPEG or PNG images by their names.
    public let skipped: Int
    /// Classes with fewer than 20 images (retrain.py warns about them too).
    public var smallClasses: [String] {
        classNames.indices.filter { c in images.lazy.filter { $0.label == c }.count < 20 }.map { classNames[$0] }
    }

    /// The images of one subset.
    public func images(in subset: Subset) -> [Image] { images.filter { $0.subset == subset } }

    static let extensions: Set<String> = ["jpg", "jpeg", "png"]

    /// Reads the folder's listing (no image is decoded here).
    public init(directory: String, validationPercentage: Double = 10, testingPercentage: Double = 10) throws {
        guard validationPercentage >= 0, testingPercentage >= 0, validationPercentage + testingPercentage < 100 else {
            throw AxonError.invalidArgument("validation (\(validationPercentage)%) and testing (\(testingPercentage)%) "
                                            + "percentages must be >= 0 and leave some images for training")
        }
        var isDirectory = false
        guard fileExists(directory, isDirectory: &isDirectory), isDirectory else {
            throw AxonError.file(path: directory, "is not a directory of class folders")
        }
        let fm = FileManager.default
        let folders = try fm.contentsOfDirectory(atPath: directory).filter { name in
            var d = false
            return !name.hasPrefix(".") && fileExists("\(directory)/\(name)", isDirectory: &d) && d
        }.sorted()
        guard folders.count >= 2 else {
            throw AxonError.file(path: directory, "holds \(folders.count) class folder\(folders.count == 1 ? "" : "s"); "
                                 + "at least 2 are needed (one sub-folder of images per class)")
        }
        var images: [Image] = [], skipped = 0
        for (label, folder) in folders.enumerated() {
            let files = try fm.contentsOfDirectory(atPath: "\(directory)/\(folder)").filter { !$0.hasPrefix(".") }.sorted()
            let pictures = files.filter { ImageFolder.extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            skipped += files.count - pictures.count
            guard !pictures.isEmpty else {
                throw AxonError.file(path: "\(directory)/\(folder)", "holds no JPEG or PNG image (every class needs images)")
            }
            for name in pictures {
                images.append(Image(path: "\(directory)/\(folder)/\(name)", label: label,
                                    subset: ImageFolder.subset(of: name, validationPercentage: validationPercentage,
                                                               testingPercentage: testingPercentage)))
            }
        }
        self.directory = directory
        self.classFolders = folders
        self.classNames = folders.map { ImageFolder.label(ofFolder: $0) }
        self.images = images
        self.skipped = skipped
    }

    /// retrain.py's label of a folder: lowercased, every run of characters other than a–z and 0–9 one space.
    public static func label(ofFolder name: String) -> String {
        var out = "", inRun = false
        for ch in name.lowercased() {
            if ch.isASCII && (ch.isLetter || ch.isNumber) {
                out.append(ch)
                inRun = false
            } else if !inRun {
                out.append(" ")
                inRun = true
            }
        }
        return out
    }

    /// The percentage (0…100) retrain.py derives from a file name.
    public static func percentage(of fileName: String) -> Double {
        let name = fileName.range(of: "_nohash_").map { String(fileName[..<$0.lowerBound]) } ?? fileName
        let digest = SHA1.digest(Array(name.utf8))
        // int(hexdigest, 16) % 2^27: the digest's last 27 bits.
        let low = digest.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & ((1 << 27) - 1)
        return Double(low) * (100.0 / Double((1 << 27) - 1))
    }

    public static func subset(of fileName: String, validationPercentage: Double, testingPercentage: Double) -> Subset {
        let p = percentage(of: fileName)
        if p < validationPercentage { return .validation }
        if p < testingPercentage + validationPercentage { return .testing }
        return .training
    }

    /// Writes the first `limit` images of each class of `data` (values in [0, 1],
    /// one or three channels) as PNG files `<directory>/<class folder>/<prefix><index>.png`,
    /// one folder per class named after `classNames` ("/" becomes "-"); returns
    /// how many were written. A folder of one's own images to try `axon retrain` on.
    @discardableResult
    public static func export(_ data: Dataset, classNames: [String], to directory: String, limit: Int = .max,
                              prefix: String = "") throws -> Int {
        let shape = data.exampleShape
        guard shape.count == 3, shape[2] == 1 || shape[2] == 3 else {
            throw AxonError.invalidArgument("export: images must be [height, width, 1 or 3], got \(shape)")
        }
        guard classNames.count >= data.classCount else {
            throw AxonError.invalidArgument("export: \(classNames.count) class names for \(data.classCount) classes")
        }
        let folders = classNames.map { $0.replacingOccurrences(of: "/", with: "-") }
        for folder in folders {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(folder)", withIntermediateDirectories: true)
        }
        var written = [Int](repeating: 0, count: classNames.count)
        for i in 0..<data.count where written[Int(data.labels[i])] < limit {
            let label = Int(data.labels[i])
            let values = data.rows(i..<(i + 1)).scalars
            let bytes = values.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
            let rgb = shape[2] == 3 ? bytes : bytes.flatMap { [$0, $0, $0] }
            try RGBImage(width: shape[1], height: shape[0], pixels: rgb).writePNG(to: "\(directory)/\(folders[label])/\(prefix)\(i).png")
            written[label] += 1
        }
        return written.reduce(0, +)
    }
}

extension ImageFolder {
    /// The images of `subset` decoded once, cropped and resized by `preprocessing`
    /// (turned to grey for one channel) and kept as bytes: a `Dataset` of
    /// [height, width, channels] examples with values byte / 255, so training
    /// epochs decode nothing. `preprocessing` must be `unitScale` (mean 0, std 255),
    /// the scale a byte dataset holds. An image smaller than the input in either
    /// side is an error (it would be blown up, not shrunk). `read` decodes one
    /// file (a parameter so that tests can count the decodes). `limit` keeps
    /// that many images spread evenly over the subset (which is in class order),
    /// so every class keeps its share.
    public func dataset(_ subset: Subset, preprocessing: ImagePreprocessing, limit: Int? = nil,
                        read: (String) throws -> RGBImage = RGBImage.read,
                        progress: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws -> Dataset {
        try preprocessing.validate()
        guard preprocessing.centralFraction == 1, preprocessing.mean.allSatisfy({ $0 == 0 }),
              preprocessing.std.allSatisfy({ $0 == 255 }) else {
            throw AxonError.invalidArgument("ImageFolder.dataset: the preprocessing must be unitScale (mean 0, std 255, central fraction 1), got \(preprocessing)")
        }
        let all = images(in: subset)
        let chosen = limit.map { n in (0..<min(max(n, 0), all.count)).map { all[$0 * all.count / min(n, all.count)] } } ?? all
        let stride = preprocessing.inputShape.reduce(1, *)
        var bytes = [UInt8](repeating: 0, count: chosen.count * stride)
        for (i, image) in chosen.enumerated() {
            let picture = try read(image.path)
            guard picture.height >= preprocessing.height, picture.width >= preprocessing.inputWidth else {
                throw AxonError.file(path: image.path, "is \(picture.width)×\(picture.height) pixels, smaller than the model's "
                                     + "\(preprocessing.inputWidth)×\(preprocessing.height) input (width×height); "
                                     + "give a smaller --input-size or remove the image")
            }
            let values = try preprocessing.resized(picture)
            for k in 0..<stride { bytes[i * stride + k] = UInt8(max(0, min(255, values[k].rounded()))) }
            progress(i + 1, chosen.count)
        }
        return try Dataset(bytes: bytes, exampleShape: preprocessing.inputShape, labels: chosen.map { Int32($0.label) },
                           classCount: classNames.count)
    }
}
