import Axon
import Foundation

/// Pictures of training: learning curves, feature maps, confusion matrices.
public enum Chart {
    /// Tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about `count` of them.
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        let span = max(hi - lo, 1e-12)
        let raw = span / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var out: [Double] = []
        var v = ceil(lo / step - 1e-9) * step
        while v <= hi + step * 1e-9 { out.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
        return out
    }

    static func label(_ v: Double, step: Double) -> String {
        let decimals = max(0, min(6, Int(-floor(log10(step) + 1e-9))))
        return String(format: "%.\(decimals)f", v)
    }

    struct Series { var name: String; var color: RGB; var points: [(Double, Double)] }

    /// One line chart with axes, ticks, a title, axis labels and a legend, in the box (x, y, w, h).
    static func lineChart(_ c: inout Canvas, x: Int, y: Int, w: Int, h: Int, title: String, yLabel: String,
                          series: [Series], yRange: (Double, Double)? = nil, legend: Bool = true) {
        let left = x + 64, right = x + w - 12, top = y + 30, bottom = y + h - 44
        let all = series.flatMap(\.points).filter { $0.1.isFinite }
        let xs = all.map(\.0), ys = all.map(\.1)
        var x0 = xs.min() ?? 1, x1 = xs.max() ?? 1
        if x1 - x0 < 1 { x0 -= 0.5; x1 += 0.5 }
        var (y0, y1) = yRange ?? (ys.min() ?? 0, ys.max() ?? 1)
        if yRange == nil {
            let pad = max((y1 - y0) * 0.08, abs(y1) * 0.02, 1e-3)
            y0 -= pad; y1 += pad
        }
        // Clamped, so a range too wide for a Double (NaN here) or a far-off value cannot trap the conversion.
        func pixel(_ v: Double) -> Int { v.isNaN ? 0 : Int(max(-1e6, min(1e6, v.rounded()))) }
        func px(_ v: Double) -> Int { left + pixel((v - x0) / (x1 - x0) * Double(right - left)) }
        func py(_ v: Double) -> Int { bottom - pixel((v - y0) / (y1 - y0) * Double(bottom - top)) }
        // Grid and ticks.
        let yt = ticks(y0, y1), yStep = yt.count > 1 ? yt[1] - yt[0] : 1
        for v in yt {
            let yy = py(v)
            c.fill(x: left, y: yy, width: right - left, height: 1, .lightGrey)
            c.fill(x: left - 5, y: yy, width: 5, height: 1, .black)
            let s = label(v, step: yStep)
            c.text(s, x: left - 8 - Canvas.textWidth(s), y: yy - 3)
        }
        let xt = ticks(x0, x1, count: min(10, max(1, Int(x1 - x0)))).filter { $0 == $0.rounded() }
        for v in xt {
            let xx = px(v)
            c.fill(x: xx, y: top, width: 1, height: bottom - top, .lightGrey)
            c.fill(x: xx, y: bottom, width: 1, height: 5, .black)
            let s = String(Int(v))
            c.text(s, x: xx - Canvas.textWidth(s) / 2, y: bottom + 9)
        }
        c.fill(x: left, y: top, width: 1, height: bottom - top + 1, .black)
        c.fill(x: left, y: bottom, width: right - left + 1, height: 1, .black)
        c.text(title, x: (left + right - Canvas.textWidth(title, scale: 2)) / 2, y: y + 6, scale: 2)
        c.text("epoch", x: (left + right - Canvas.textWidth("epoch")) / 2, y: bottom + 24)
        c.verticalText(yLabel, x: x + 4, y: (top + bottom - Canvas.textWidth(yLabel)) / 2)
        // Curves, with a square marker on every epoch.
        for s in series {
            let pts = s.points.filter { $0.1.isFinite }
            for (a, b) in zip(pts, pts.dropFirst()) { c.line(px(a.0), py(a.1), px(b.0), py(b.1), s.color, thickness: 2) }
            for p in pts { c.fill(x: px(p.0) - 3, y: py(p.1) - 3, width: 7, height: 7, s.color) }
        }
        // Legend in the top-right corner of the plot area.
        guard legend else { return }
        let named = series.filter { !$0.points.isEmpty }
        let lw = (named.map { Canvas.textWidth($0.name) }.max() ?? 0) + 34
        var ly = top + 8
        c.fill(x: right - lw - 8, y: ly - 5, width: lw, height: named.count * 14 + 8, .white)
        c.stroke(x: right - lw - 8, y: ly - 5, width: lw, height: named.count * 14 + 8, .grey)
        for s in named {
            c.fill(x: right - lw - 2, y: ly + 2, width: 18, height: 3, s.color)
            c.text(s.name, x: right - lw + 22, y: ly)
            ly += 14
        }
    }

    /// Loss (left) and accuracy (right) against epoch, for training, validation and
    /// test (each drawn where the history has its figures).
    public static func curves(_ history: History) -> Canvas {
        var c = Canvas(width: 960, height: 400)
        let e = history.epochs
        func series(_ loss: @escaping (EpochRecord) -> Float?, _ accuracy: @escaping (EpochRecord) -> Double?,
                    _ name: String, _ color: RGB) -> (Series, Series) {
            (Series(name: name, color: color, points: e.compactMap { r in loss(r).map { (Double(r.epoch), Double($0)) } }),
             Series(name: name, color: color, points: e.compactMap { r in accuracy(r).map { (Double(r.epoch), $0 * 100) } }))
        }
        let all = [series({ $0.trainLoss }, { $0.trainAccuracy }, "train", .blue),
                   series(\.validationLoss, \.validationAccuracy, "validation", .green),
                   series(\.testLoss, \.testAccuracy, "test", .orange)]
        let loss = all.map(\.0), acc = all.map(\.1)
        lineChart(&c, x: 0, y: 0, w: 480, h: 400, title: "loss", yLabel: "cross-entropy loss", series: loss)
        lineChart(&c, x: 480, y: 0, w: 480, h: 400, title: "accuracy", yLabel: "accuracy (%)", series: acc)
        return c
    }

    /// Ten distinct colours (matplotlib's "tab10") for overlaid runs.
    static let palette: [RGB] = [.blue, .orange, .green, RGB(214, 39, 40), RGB(148, 103, 189), RGB(140, 86, 75),
                                 RGB(227, 119, 194), .grey, RGB(188, 189, 34), RGB(23, 190, 207)]

    /// Several runs in one picture, one colour per run: training loss (or test loss
    /// with `testLoss`) on the left and test accuracy (validation accuracy for a run
    /// without test figures) on the right, against epoch.
    public static func overlay(_ runs: [(label: String, history: History)], testLoss: Bool = false) -> Canvas {
        // One legend for both charts, below them, so that it hides no curve.
        let perRow = 4, rows = (runs.count + perRow - 1) / perRow
        var c = Canvas(width: 960, height: 400 + rows * 16 + 10)
        for (i, run) in runs.enumerated() {
            let x = 70 + (i % perRow) * 225, y = 404 + (i / perRow) * 16
            c.fill(x: x, y: y + 2, width: 18, height: 3, palette[i % palette.count])
            c.text(run.label, x: x + 24, y: y)
        }
        func series(_ value: @escaping (EpochRecord) -> Double?) -> [Series] {
            runs.enumerated().map { i, run in
                Series(name: run.label, color: palette[i % palette.count],
                       points: run.history.epochs.compactMap { r in value(r).map { (Double(r.epoch), $0) } })
            }
        }
        lineChart(&c, x: 0, y: 0, w: 480, h: 400, title: testLoss ? "test loss" : "training loss", yLabel: "loss",
                  series: series { r in testLoss ? r.testLoss.map(Double.init) : Double(r.trainLoss) }, legend: false)
        lineChart(&c, x: 480, y: 0, w: 480, h: 400, title: "test accuracy", yLabel: "accuracy (%)",
                  series: series { r in (r.testAccuracy ?? r.validationAccuracy).map { $0 * 100 } }, legend: false)
        return c
    }

    /// A row of grey-scale tiles under a label.
    public struct TileRow: Sendable {
        public var label: String
        /// Each tile: height × width values, row-major, normalised on its own to [0, 1].
        public var tiles: [[Float]]
        public var tileHeight: Int, tileWidth: Int
        public var scale: Int
        public init(label: String, tiles: [[Float]], tileHeight: Int, tileWidth: Int, scale: Int) {
            self.label = label; self.tiles = tiles; self.tileHeight = tileHeight; self.tileWidth = tileWidth
            self.scale = scale
        }
    }

    /// Rows of tiles, wrapped at `perLine` tiles; each tile is min–max normalised
    /// (a constant tile is drawn mid-grey).
    public static func tileGrid(_ rows: [TileRow], perLine: Int = 16) -> Canvas {
        let gap = 4, margin = 10, labelH = 14
        func size(_ r: TileRow) -> (Int, Int) { (r.tileWidth * r.scale, r.tileHeight * r.scale) }
        var width = 0, height = margin
        for r in rows {
            let (tw, th) = size(r)
            let n = min(perLine, max(r.tiles.count, 1))
            let lines = (r.tiles.count + perLine - 1) / perLine
            width = max(width, n * (tw + gap) - gap, Canvas.textWidth(r.label))
            height += labelH + lines * (th + gap) + 8
        }
        var c = Canvas(width: width + 2 * margin, height: height + margin - 8)
        var y = margin
        for r in rows {
            let (tw, th) = size(r)
            c.text(r.label, x: margin, y: y)
            y += labelH
            for (k, t) in r.tiles.enumerated() {
                let tx = margin + (k % perLine) * (tw + gap), ty = y + (k / perLine) * (th + gap)
                let lo = t.min() ?? 0, hi = t.max() ?? 0
                for i in 0..<r.tileHeight { for j in 0..<r.tileWidth {
                    let v = hi > lo ? (t[i * r.tileWidth + j] - lo) / (hi - lo) : 0.5
                    c.fill(x: tx + j * r.scale, y: ty + i * r.scale, width: r.scale, height: r.scale, .grey(v))
                } }
            }
            y += ((r.tiles.count + perLine - 1) / perLine) * (th + gap) + 8
        }
        return c
    }

    /// Per-channel tiles of one example's NHWC activation [1, h, w, c].
    public static func channelTiles(_ t: Tensor) -> [[Float]] {
        guard t.rank == 4 else { return [] }
        let (h, w, ch) = (t.shape[1], t.shape[2], t.shape[3])
        let s = t.scalars
        return (0..<ch).map { k in (0..<(h * w)).map { s[$0 * ch + k] } }
    }

    /// The input, every convolution and pooling layer's output for `image`
    /// [1, h, w, c], and the first convolution filters (HWIO, averaged over input channels).
    public static func featureMaps(_ model: inout Sequential, image: Tensor) throws -> Canvas {
        guard image.rank == 4, image.shape[0] == 1 else {
            throw AxonError.shapeMismatch("featureMaps image", expected: [1, -1, -1, -1], got: image.shape)
        }
        let outputs = try model.forwardCollecting(image)
        var rows: [TileRow] = []
        rows.append(TileRow(label: "input \(image.shape[1])x\(image.shape[2])", tiles: channelTiles(image),
                            tileHeight: image.shape[1], tileWidth: image.shape[2], scale: 4))
        var firstConv: Conv2D?
        for (i, layer) in model.layers.enumerated() {
            let isConv = layer is Conv2D
            let isPool = layer is MaxPool2D || layer is AvgPool2D || layer is StochasticPool2D
            guard isConv || isPool, outputs[i].rank == 4 else { continue }
            if let conv = layer as? Conv2D, firstConv == nil { firstConv = conv }
            let o = outputs[i]
            let scale = max(1, min(4, 84 / max(o.shape[1], o.shape[2])))
            rows.append(TileRow(label: "layer \(i) \(layer.summary): \(o.shape[3]) maps \(o.shape[1])x\(o.shape[2])",
                                tiles: channelTiles(o), tileHeight: o.shape[1], tileWidth: o.shape[2], scale: scale))
        }
        if let conv = firstConv {
            let k = conv.kernel, (kh, kw, ci, co) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
            let s = k.scalars
            let tiles = (0..<co).map { o in
                (0..<(kh * kw)).map { p in (0..<ci).reduce(Float(0)) { $0 + s[(p * ci + $1) * co + o] } / Float(ci) }
            }
            rows.append(TileRow(label: "first convolution filters \(kh)x\(kw)", tiles: tiles,
                                tileHeight: kh, tileWidth: kw, scale: max(2, 56 / max(kh, kw))))
        }
        return tileGrid(rows)
    }

    /// counts[true][predicted] as a heat map (colour = fraction of the true class),
    /// with the counts written in the cells.
    public static func confusion(_ counts: [[Int]], classNames: [String]) -> Canvas {
        let n = counts.count, cell = 44
        let nameW = (classNames.map { Canvas.textWidth($0) }.max() ?? 0) + 16
        let left = 24 + nameW, top = 60
        var c = Canvas(width: left + n * cell + 20, height: top + n * cell + 40)
        c.text("confusion matrix", x: left, y: 8, scale: 2)
        c.text("predicted class", x: left + (n * cell - Canvas.textWidth("predicted class")) / 2, y: 30)
        c.verticalText("true class", x: 4, y: top + (n * cell - Canvas.textWidth("true class")) / 2)
        for i in 0..<n {
            let total = max(counts[i].reduce(0, +), 1)
            let name = i < classNames.count ? classNames[i] : String(i)
            c.text(name, x: left - 8 - Canvas.textWidth(name), y: top + i * cell + cell / 2 - 3)
            let col = String(i)
            c.text(col, x: left + i * cell + (cell - Canvas.textWidth(col)) / 2, y: top - 12)
            for j in 0..<n {
                let f = Double(counts[i][j]) / Double(total)
                // White → dark blue.
                let bg = RGB(UInt8(255 - 247 * f), UInt8(255 - 207 * f), UInt8(255 - 148 * f))
                c.fill(x: left + j * cell, y: top + i * cell, width: cell, height: cell, bg)
                let s = String(counts[i][j])
                c.text(s, x: left + j * cell + (cell - Canvas.textWidth(s)) / 2, y: top + i * cell + cell / 2 - 3,
                       f > 0.5 ? .white : .black)
            }
        }
        c.stroke(x: left - 1, y: top - 1, width: n * cell + 2, height: n * cell + 2, .black)
        return c
    }
}
