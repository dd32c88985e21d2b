import Foundation
import Testing
import Axon

/// Real training on real data: a short run must reach a stated accuracy.
/// Uses Debian's Fashion-MNIST (dataset-fashion-mnist).
@Suite(.serialized) struct FashionMNISTModelTests {
    static let available = FileManager.default.fileExists(
        atPath: MNIST.defaultDirectory + "/" + MNIST.trainImagesFile + ".gz")

    static func data() throws -> (train: Dataset, test: Dataset) {
        let all = try MNIST.load(from: MNIST.defaultDirectory)
        return (all.train.prefix(12_000), all.test)
    }

    @Test(.enabled(if: available, "needs /usr/share/datasets/fashion-mnist (make deps)"))
    func lenet5OneEpoch() throws {
        let (train, test) = try Self.data()
        var model = Models.lenet5()
        let recipe = try Models.recipe(for: "lenet5")
        let trainer = Trainer(optimizer: recipe.optimizer)
        let history = try trainer.fit(&model, on: train, epochs: 1, batchSize: recipe.batchSize, validation: test, seed: 1)
        let acc = try #require(history.last?.validationAccuracy)
        #expect(acc >= 0.72, "LeNet-5 test accuracy after 1 epoch on 12,000 images: \(acc)")
    }

    @Test(.enabled(if: available, "needs /usr/share/datasets/fashion-mnist (make deps)"))
    func lstmOneEpoch() throws {
        let (train, test) = try Self.data()
        var model = Models.lstmClassifier(hidden: 128)
        let recipe = try Models.recipe(for: "lstm")
        let trainer = Trainer(optimizer: recipe.optimizer)
        let history = try trainer.fit(&model, on: train, epochs: 1, batchSize: recipe.batchSize, validation: test, seed: 1)
        let acc = try #require(history.last?.validationAccuracy)
        #expect(acc >= 0.60, "LSTM(128) test accuracy after 1 epoch on 12,000 images: \(acc)")
    }
}
