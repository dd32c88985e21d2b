import Foundation
import Testing
@testable import Axon

/// Training Axon's own models from folders of images (`axon train --images`).
@Suite(.serialized) struct ImageTrainingTests {
    /// The first `perClass` images of each class of Fashion-MNIST's training
    /// set written as PNG class folders (nil when the dataset is not installed).
    static func fashionFolder(_ dir: URL, perClass: Int) throws -> ImageFolder? {
        guard FileManager.default.fileExists(atPath: MNIST.defaultDirectory) else {
            print("SKIPPED: \(MNIST.defaultDirectory) absent (sudo apt-get install dataset-fashion-mnist)")
            return nil
        }
        let data = try MNIST.load(from: MNIST.defaultDirectory)
        try ImageFolder.export(data.train.prefix(perClass * 14), classNames: MNIST.fashionClassNames, to: dir.path, limit: perClass)
        return try ImageFolder(directory: dir.path)
    }

    /// LeNet-5 trained on 100 exported images per class, read back from PNG
    /// files, classifies the folder's testing set far above chance (10%).
    @Test func lenet5FromFoldersLearnsFashionMNIST() throws {
        let dir = try makeTempDir("fm-folders")
        defer { try? FileManager.default.removeItem(at: dir) }
        guard let folder = try Self.fashionFolder(dir, perClass: 100) else { return }
        let p = ImagePreprocessing.unitScale(height: 28, width: 28, channels: 1)
        var decodes = 0
        let train = try folder.dataset(.training, preprocessing: p) { decodes += 1; return try RGBImage.read($0) }
        let test = try folder.dataset(.testing, preprocessing: p)
        #expect(decodes == train.count && train.exampleShape == [28, 28, 1] && train.count > 700 && test.count > 50)
        // The PNGs hold the dataset's bytes exactly: the round trip is lossless.
        let original = try MNIST.load(from: MNIST.defaultDirectory).train
        let first = folder.images.firstIndex { $0.subset == .training }!
        let index = Int(URL(fileURLWithPath: folder.images[first].path).deletingPathExtension().lastPathComponent)!
        #expect(train.rows(0..<1).scalars == original.rows(index..<(index + 1)).scalars)

        var model = Models.lenet5(classes: folder.classNames.count, seed: 1)
        let trainer = Trainer(loss: .softmaxCrossEntropy, optimizer: Adam(learningRate: 0.002))
        try trainer.fit(&model, on: train, epochs: 6, batchSize: 32, seed: 1)
        #expect(decodes == train.count, "six epochs decoded no image again: they read the byte dataset")
        let (_, accuracy) = try evaluate(model, on: test)
        print("lenet5 from \(train.count) PNG images: test accuracy \(accuracy) on \(test.count)")
        #expect(accuracy >= 0.65, "test accuracy \(accuracy)")
    }

    /// A colour photo becomes one grey channel (BT.601) for a 1-channel model, and
    /// a non-square input is the centred region of its aspect ratio.
    @Test func preprocessingTurnsColourToGreyAndKeepsAspect() throws {
        let pixels: [UInt8] = [200, 100, 50, 10, 10, 10, 0, 255, 0, 30, 60, 90]
        let image = try RGBImage(width: 2, height: 2, pixels: pixels)
        let grey = try ImagePreprocessing.unitScale(height: 2, width: 2, channels: 1).batch([image])
        #expect(grey.shape == [1, 2, 2, 1])
        let expected: [Float] = [0.2989 * 200 + 0.587 * 100 + 0.114 * 50, 10, 0.587 * 255, 0.2989 * 30 + 0.587 * 60 + 0.114 * 90]
        #expect(zip(grey.scalars, expected).allSatisfy { abs($0 * 255 - $1) < 1e-3 })
        // 6×2 picture, 1×3 input: the centred 6×2 region of ratio 3 is the whole picture;
        // a 2×2 input takes the centred 2×2 square.
        let wide = try RGBImage(width: 6, height: 2, pixels: (0..<36).map { UInt8($0 / 3 * 10) })
        let square = try ImagePreprocessing.unitScale(height: 2, width: 2, channels: 3).resized(wide)
        #expect(square == [20, 20, 20, 30, 30, 30, 80, 80, 80, 90, 90, 90])
        #expect(try ImagePreprocessing.unitScale(height: 1, width: 3, channels: 3).resized(wide).count == 9)
    }

    @Test func imagesSmallerThanTheInputAndWrongPreprocessingAreRefused() throws {
        let dir = try makeTempDir("small-images")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ImageFolderTests.makeFolder(dir, perClass: 3)   // 40×30 pictures
        let folder = try ImageFolder(directory: dir.path)
        func message(_ body: () throws -> Void) -> String { do { try body(); return "" } catch { return "\(error)" } }
        let m = message { _ = try folder.dataset(.training, preprocessing: .unitScale(height: 32, width: 32, channels: 3)) }
        #expect(m.contains(".png") && m.contains("40×30") && m.contains("smaller than the model's 32×32"), "\(m)")
        #expect(message { _ = try folder.dataset(.training, preprocessing: .efficientNetLite) }.contains("unitScale"))
        #expect(try folder.dataset(.training, preprocessing: .unitScale(height: 30, width: 40, channels: 3)).exampleShape == [30, 40, 3])
    }
}

@Suite struct DistortionTests {
    static func photo(seed: UInt64) throws -> RGBImage {
        var g = SeededGenerator(seed: seed)
        return try RGBImage(width: 12, height: 10, pixels: (0..<360).map { _ in UInt8(g.next() % 256) })
    }
    static let p = ImagePreprocessing(size: 8, centralFraction: 1, mean: [0, 0, 0], std: [1, 1, 1])

    @Test func noDistortionIsThePlainPreprocessingAndASeedRepeats() throws {
        let images = [try Self.photo(seed: 1), try Self.photo(seed: 2)]
        var g = SeededGenerator(seed: 9)
        #expect(try Distortions().batch(images, preprocessing: Self.p, generator: &g) == Self.p.batch(images))
        let d = Distortions(flipLeftRight: true, randomCrop: 20, randomScale: 30, randomBrightness: 25)
        var a = SeededGenerator(seed: 4), b = SeededGenerator(seed: 4), c = SeededGenerator(seed: 5)
        let x = try d.batch(images, preprocessing: Self.p, generator: &a)
        #expect(x.shape == [2, 8, 8, 3])
        #expect(x == (try d.batch(images, preprocessing: Self.p, generator: &b)), "same seed, same images")
        #expect(x != (try d.batch(images, preprocessing: Self.p, generator: &c)), "another seed, other draws")
    }

    /// Flipping alone gives either the plain picture or its mirror image, each at times.
    @Test func flipMirrorsLeftRight() throws {
        let image = try Self.photo(seed: 3)
        let plain = try Self.p.batch([image]).scalars
        var mirror = plain
        for y in 0..<8 { for x in 0..<8 { for c in 0..<3 { mirror[(y * 8 + x) * 3 + c] = plain[(y * 8 + 7 - x) * 3 + c] } } }
        var g = SeededGenerator(seed: 1), flipped = 0
        for _ in 0..<40 {
            let s = try Distortions(flipLeftRight: true).batch([image], preprocessing: Self.p, generator: &g).scalars
            #expect(s == plain || s == mirror)
            if s == mirror { flipped += 1 }
        }
        #expect(flipped > 8 && flipped < 32, "about half mirrored: \(flipped) of 40")
    }

    /// retrain.py multiplies every pixel by one factor in [1 − P/100, 1 + P/100) per image.
    @Test func brightnessScalesAsRetrainPyDoes() throws {
        let image = try Self.photo(seed: 6)
        let plain = try Self.p.batch([image]).scalars
        var g = SeededGenerator(seed: 2), factors: [Float] = []
        for _ in 0..<50 {
            let s = try Distortions(randomBrightness: 30).batch([image], preprocessing: Self.p, generator: &g).scalars
            let k = plain.indices.max { plain[$0] < plain[$1] }!
            let f = s[k] / plain[k]
            #expect(zip(s, plain).allSatisfy { abs($0 - $1 * f) <= 1e-3 * max(1, $1) }, "one factor for the whole image")
            factors.append(f)
        }
        #expect(factors.allSatisfy { $0 >= 0.7 - 1e-6 && $0 < 1.3 + 1e-6 } && factors.min()! < 0.8 && factors.max()! > 1.2)
        let m = (try? Distortions(randomBrightness: 150).validate()).map { _ in "" } ?? "refused"
        #expect(m == "refused")
    }

    /// A crop margin of P% resizes to (1 + P/100)× the input before cutting a window.
    @Test func cropWindowsComeFromTheEnlargedPicture() throws {
        let image = try Self.photo(seed: 8)
        var big = Tensor.empty
        let r = Self.p.cropRegion(of: image)
        try Kernels.resizeBilinear(ImagePreprocessing.crop(image, top: r.top, left: r.left, height: r.height, width: r.width),
                                   height: 12, width: 12, y: &big)  // Int(1.5 · 8) = 12
        var windows = Set<[Float]>()
        let all = big.scalars
        for y in 0...4 {
            for x in 0...4 {
                var window: [Float] = []
                for row in 0..<8 {
                    let start: Int = ((y + row) * 12 + x) * 3
                    window += all[start..<(start + 24)]
                }
                windows.insert(window)
            }
        }
        var g = SeededGenerator(seed: 3), seen = Set<[Float]>()
        for _ in 0..<30 {
            let s = try Distortions(randomCrop: 50).batch([image], preprocessing: Self.p, generator: &g).scalars
            #expect(windows.contains(s))
            seen.insert(s)
        }
        #expect(seen.count > 5, "random places")
    }
}

/// `axon train --images`, `axon eval --images` and `axon classify` on its model.
@Suite(.serialized) struct ImageTrainingCLITests {
    @Test func smallCNNOnColourFoldersThenEvalAndClassify() throws {
        let dir = try makeTempDir("cli-images")
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = dir.appendingPathComponent("images").path, model = dir.appendingPathComponent("m.safetensors").path
        try ImageFolderTests.makeFolder(URL(fileURLWithPath: images), perClass: 30)
        let r = try runAxon(["train", "--images", images, "--model", "small-cnn", "--input-size", "16x20", "--epochs", "8",
                             "--augment", "flip,jitter", "--save", model])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("(1 files that are not JPEG or PNG skipped)"), "stdout: \(r.stdout)")
        #expect(r.stdout.contains("saturation"), "jitter on colour images includes saturation: \(r.stdout)")
        let acc = finalAccuracy(r.stdout) ?? 0
        #expect(acc >= 90, "red, green and blue squares told apart: \(acc)%; stdout: \(r.stdout)")
        let e = try runAxon(["eval", "--model", model, "--images", images])
        #expect(e.status == 0 && finalAccuracy(e.stdout) == acc, "the same figure as training's: stdout: \(e.stdout) stderr: \(e.stderr)")
        let c = try runAxon(["classify", "--model", model, "--top", "1", images + "/BLUE things/img0.png"])
        #expect(c.status == 0 && c.stdout.contains("blue things (0)"), "stdout: \(c.stdout) stderr: \(c.stderr)")
    }

    /// Inception-v3 (a Graph with BatchNorm) trained from scratch on a folder of
    /// photos, as the course's last chapter does, here narrowed 16× and at its
    /// smallest input; the saved Graph evaluates to the run's own figure.
    @Test func inceptionV3FromScratchOnAFolder() throws {
        let dir = try makeTempDir("cli-inception")
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = dir.appendingPathComponent("images"), model = dir.appendingPathComponent("i.safetensors").path
        var g = SeededGenerator(seed: 8)
        for (c, name) in ["red", "green", "blue"].enumerated() {
            try FileManager.default.createDirectory(at: images.appendingPathComponent(name), withIntermediateDirectories: true)
            for i in 0..<8 {
                let pixels = (0..<(80 * 80 * 3)).map { k in UInt8(k % 3 == c ? 150 + Int(g.next() % 100) : Int(g.next() % 60)) }
                try RGBImage(width: 80, height: 80, pixels: pixels).writePNG(to: images.appendingPathComponent("\(name)/img\(i).png").path)
            }
        }
        let r = try runAxon(["train", "--images", images.path, "--model", "inception-v3", "--width-divisor", "16",
                             "--input-size", "75x75", "--epochs", "2", "--batch-size", "8", "--save", model])
        #expect(r.status == 0 && r.stdout.contains("Inception-v3 on") && r.stdout.contains("filters ÷ 16"),
                "stdout: \(r.stdout) stderr: \(r.stderr)")
        let loaded = try ModelFile.load(from: model)
        #expect(loaded.model is Graph && loaded.inputShape == [75, 75, 3])
        #expect(loaded.model.state.contains { $0.name.hasSuffix("moving_mean") })
        let e = try runAxon(["eval", "--model", model, "--images", images.path])
        #expect(e.status == 0 && finalAccuracy(e.stdout) == finalAccuracy(r.stdout), "stdout: \(e.stdout) stderr: \(e.stderr)")
        let small = try runAxon(["train", "--images", images.path, "--model", "inception-v3", "--input-size", "64x64"])
        #expect(small.status != 0 && small.stderr.contains("at least 75x75"), "stderr: \(small.stderr)")
        let mnist = try runAxon(["train", "--model", "inception-v3"])
        #expect(mnist.status != 0 && mnist.stderr.contains("trains on --images DIR"), "stderr: \(mnist.stderr)")
        let narrow = try runAxon(["train", "--model", "lenet5", "--width-divisor", "2"])
        #expect(narrow.status != 0 && narrow.stderr.contains("only to --model inception-v3"), "stderr: \(narrow.stderr)")
    }

    /// A grey model (lenet5) trained on colour photos; classify turns a colour photo to grey for it.
    @Test func lenet5OnGreyedColourPhotos() throws {
        let dir = try makeTempDir("cli-grey")
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = dir.appendingPathComponent("images").path, model = dir.appendingPathComponent("g.safetensors").path
        try ImageFolderTests.makeFolder(URL(fileURLWithPath: images), perClass: 8)
        let r = try runAxon(["train", "--images", images, "--model", "lenet5", "--input-size", "28x28", "--grayscale",
                             "--epochs", "1", "--save", model])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let loaded = try ModelFile.load(from: model)
        #expect(loaded.inputShape == [28, 28, 1])
        #expect(try Pretrained.preprocessing(in: loaded.metadata) == .unitScale(height: 28, width: 28, channels: 1))
        let c = try runAxon(["classify", "--model", model, images + "/Red_Things/img1.png"])
        #expect(c.status == 0 && c.stdout.contains("red things"), "stdout: \(c.stdout) stderr: \(c.stderr)")
    }

    /// A run checkpointed after epoch 1 and resumed to epoch 2 ends where an
    /// uninterrupted one does; --limit keeps every class; --history gets the test figure.
    @Test func checkpointResumeLimitAndHistory() throws {
        let dir = try makeTempDir("cli-resume-images")
        defer { try? FileManager.default.removeItem(at: dir) }
        let images = dir.appendingPathComponent("images").path, ck = dir.appendingPathComponent("ck").path
        let history = dir.appendingPathComponent("h.csv").path
        try ImageFolderTests.makeFolder(URL(fileURLWithPath: images), perClass: 10)
        let flags = ["train", "--images", images, "--model", "small-cnn", "--input-size", "8x8", "--limit", "12"]
        let straight = try runAxon(flags + ["--epochs", "2", "--history", history])
        #expect(straight.status == 0, "stderr: \(straight.stderr)")
        #expect(straight.stdout.contains("12 training, "), "stdout: \(straight.stdout)")
        let rows = try String(contentsOfFile: history, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 3 && rows[2].split(separator: ",", omittingEmptySubsequences: false).filter { !$0.isEmpty }.count >= 7,
                "the last epoch's row has test figures: \(rows)")
        let first = try runAxon(flags + ["--epochs", "1", "--checkpoint-dir", ck])
        #expect(first.status == 0, "stderr: \(first.stderr)")
        let resumed = try runAxon(["train", "--resume", ck, "--epochs", "2"])
        #expect(resumed.status == 0, "stderr: \(resumed.stderr)")
        #expect(finalAccuracy(resumed.stdout) == finalAccuracy(straight.stdout)
                && resumed.stdout.contains("loss") && straight.stdout.split(separator: "\n").first { $0.hasPrefix("epoch 2/2") }.map {
                    line in resumed.stdout.contains(String(line.prefix(40))) } == true,
                "straight: \(straight.stdout)\nresumed: \(resumed.stdout)")
    }

    @Test(arguments: [
        (["--model", "lenet5"], "--images needs --input-size"),
        (["--model", "lenet5", "--input-size", "32x32", "--grayscale"], "lenet5 takes 28×28×1 images"),
        (["--model", "lstm", "--input-size", "28x28"], "--input-size 28x28 --grayscale"),
        (["--model", "small-cnn", "--input-size", "3x8"], "at least 4x4"),
        (["--model", "small-cnn", "--input-size", "big"], "--input-size"),
        (["--model", "small-cnn", "--input-size", "64x64"], "smaller than the model's 64×64 input"),
        (["--model", "small-cnn", "--input-size", "8x8", "--validation-percentage", "60", "--testing-percentage", "40"],
         "leave some images for training"),
        (["--model", "small-cnn", "--input-size", "8x8", "--validation-percentage", "0", "--early-stopping", "2"],
         "has none in its validation set"),
        (["--model", "small-cnn", "--input-size", "8x8", "--resume", "/nonexistent"], "cannot be combined with --resume"),
    ])
    func badImageRunsAreRefused(_ flags: [String], _ expected: String) throws {
        let dir = try makeTempDir("cli-bad-images")
        defer { try? FileManager.default.removeItem(at: dir) }
        try ImageFolderTests.makeFolder(dir, perClass: 3)
        let r = try runAxon(["train", "--images", dir.path, "--epochs", "1"] + flags)
        #expect(r.status != 0 && r.stderr.contains(expected), "stderr: \(r.stderr)")
    }
}
