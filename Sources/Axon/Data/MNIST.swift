/// The MNIST family of datasets (MNIST digits, Fashion-MNIST, ...) in the
/// four standard IDX files, raw or gzip-compressed.
public enum MNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// How to get the data, appended to every "missing data" error.
    public static let howToGetData =
        "install Fashion-MNIST with `sudo apt-get install dataset-fashion-mnist`, "
        + "or pass --data DIR with a directory holding the four standard MNIST files "
        + "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each raw or .gz)"

    /// The standard file names, without the optional `.gz`.
    public static let trainImagesFile = "train-images-idx3-ubyte"
    public static let trainLabelsFile = "train-labels-idx1-ubyte"
    public static let testImagesFile = "t10k-images-idx3-ubyte"
    public static let testLabelsFile = "t10k-labels-idx1-ubyte"

    /// Fashion-MNIST's class names, indexed by label.
    public static let fashionClassNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// MNIST's class names: the digits.
    public static let digitClassNames = (0...9).map { String($0) }

    /// A data directory may name its 10 classes in this file, one per line in label order.
    public static let classNamesFile = "classes.txt"

    /// FNV-1a (64-bit) of Fashion-MNIST's 10,000 test labels, which tells it apart
    /// from MNIST and every other data set in the same format wherever its files live.
    static let fashionTestLabelsHash: UInt64 = 0x25bd_f812_3f06_fac3

    /// The class names of the data in `directory`, whose test labels are
    /// `testLabels`: those of its `classes.txt` if it has one; Fashion-MNIST's if
    /// the test labels are Fashion-MNIST's; otherwise the digits 0–9 (MNIST, and
    /// any other data in its format: a class's name is then its number).
    public static func classNames(in directory: String, testLabels: [Int32]) throws -> [String] {
        let file = (directory.hasSuffix("/") ? directory : directory + "/") + classNamesFile
        var isDir = false
        if fileExists(file, isDirectory: &isDir) {
            let names = try ClassNames.read(from: file)
            guard names.count == 10 else {
                throw AxonError.file(path: file, "names \(names.count) classes; MNIST-format labels are the 10 classes 0...9")
            }
            return names
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for label in testLabels { hash = (hash ^ UInt64(truncatingIfNeeded: label)) &* 0x100_0000_01b3 }
        return testLabels.count == 10000 && hash == fashionTestLabelsHash ? fashionClassNames : digitClassNames
    }

    /// Loads the training and test sets from `directory`. Images are
    /// [N, rows, cols, 1] with values in [0, 1] (byte / 255), held as bytes.
    /// With `trainLimit`, only the first that many training examples are kept
    /// (the files are still read through and checked).
    public static func load(from directory: String = defaultDirectory, trainLimit: Int? = nil) throws -> (train: Dataset, test: Dataset) {
        var isDir = false
        if !fileExists(directory, isDirectory: &isDir) {
            throw AxonError.file(path: directory, "data directory does not exist; \(howToGetData)")
        }
        if !isDir {
            throw AxonError.file(path: directory, "is not a directory; \(howToGetData)")
        }
        let train = try loadSplit(images: locate(trainImagesFile, in: directory),
                                  labels: locate(trainLabelsFile, in: directory), limit: trainLimit)
        let test = try loadSplit(images: locate(testImagesFile, in: directory),
                                 labels: locate(testLabelsFile, in: directory))
        if train.exampleShape != test.exampleShape {
            throw AxonError.file(path: try locate(testImagesFile, in: directory),
                "test images are \(test.exampleShape.prefix(2).map(String.init).joined(separator: "×")) "
                + "but training images are \(train.exampleShape.prefix(2).map(String.init).joined(separator: "×"))")
        }
        return (train, test)
    }

    /// Loads one split from an image file and a label file, checking that
    /// their counts agree and that every label is a class id 0...9.
    public static func loadSplit(images imagesPath: String, labels labelsPath: String, limit: Int? = nil) throws -> Dataset {
        let images = try IDX.readImages(imagesPath, limit: limit)
        let (labels, labelCount) = try IDX.readLabelFile(labelsPath, limit: limit)
        guard images.fileCount == labelCount else {
            throw AxonError.file(path: labelsPath,
                "holds \(labelCount) labels but \(imagesPath) holds \(images.fileCount) images; the counts must agree")
        }
        if let i = labels.firstIndex(where: { $0 > 9 }) {
            throw AxonError.file(path: labelsPath, "label \(labels[i]) at index \(i) is not a class id 0...9")
        }
        return try Dataset(bytes: images.pixels, exampleShape: [images.rows, images.cols, 1],
                           labels: labels.map { Int32($0) }, classCount: 10)
    }

    /// The path of `name` or `name.gz` in `directory` (the raw file if both exist).
    static func locate(_ name: String, in directory: String) throws -> String {
        let base = directory.hasSuffix("/") ? directory + name : directory + "/" + name
        var isDir = false
        for candidate in [base, base + ".gz"] where fileExists(candidate, isDirectory: &isDir) && !isDir {
            return candidate
        }
        throw AxonError.file(path: base, "missing (looked for \(name) and \(name).gz in \(directory)); \(howToGetData)")
    }
}
