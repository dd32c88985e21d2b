import Axon

/// An 8-bit RGB colour.
public struct RGB: Sendable, Equatable {
    public var r, g, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    public static let white = RGB(255, 255, 255), black = RGB(0, 0, 0)
    public static let grey = RGB(128, 128, 128), lightGrey = RGB(225, 225, 225)
    public static let blue = RGB(31, 119, 180), orange = RGB(255, 127, 14), green = RGB(44, 160, 44)
    /// Grey level of v in [0, 1].
    public static func grey(_ v: Float) -> RGB {
        let b = UInt8(max(0, min(255, (v * 255).rounded())))
        return RGB(b, b, b)
    }
}

/// A small raster canvas: rectangles, lines and text in a built-in 5×7 bitmap
/// font, written as PNG through libpng. Coordinates are pixels, (0, 0) top left.
public struct Canvas: Sendable {
    public let width: Int
    public let height: Int
    /// Row-major RGB bytes, 3 per pixel.
    public private(set) var pixels: [UInt8]

    public init(width: Int, height: Int, background: RGB = .white) {
        self.width = max(width, 1)
        self.height = max(height, 1)
        pixels = [UInt8](repeating: 0, count: self.width * self.height * 3)
        fill(x: 0, y: 0, width: self.width, height: self.height, background)
    }

    public mutating func set(_ x: Int, _ y: Int, _ c: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    public func pixel(_ x: Int, _ y: Int) -> RGB {
        let i = (y * width + x) * 3
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ c: RGB) {
        let x0 = max(x, 0), y0 = max(y, 0), x1 = min(x + w, width), y1 = min(y + h, height)
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 { for xx in x0..<x1 { set(xx, yy, c) } }
    }

    /// A one-pixel rectangle outline.
    public mutating func stroke(x: Int, y: Int, width w: Int, height h: Int, _ c: RGB) {
        fill(x: x, y: y, width: w, height: 1, c)
        fill(x: x, y: y + h - 1, width: w, height: 1, c)
        fill(x: x, y: y, width: 1, height: h, c)
        fill(x: x + w - 1, y: y, width: 1, height: h, c)
    }

    /// A straight line (Bresenham), `thickness` pixels wide.
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ c: RGB, thickness: Int = 1) {
        var x = x0, y = y0
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var err = dx + dy
        let lo = -(thickness - 1) / 2, hi = thickness / 2
        while true {
            for oy in lo...hi { for ox in lo...hi { set(x + ox, y + oy, c) } }
            if x == x1 && y == y1 { break }
            let e2 = 2 * err
            if e2 >= dy { err += dy; x += sx }
            if e2 <= dx { err += dx; y += sy }
        }
    }

    /// Width in pixels of `text` drawn at `scale`.
    public static func textWidth(_ text: String, scale: Int = 1) -> Int {
        max(0, text.count * 6 - 1) * scale
    }
    public static func textHeight(scale: Int = 1) -> Int { 7 * scale }

    /// Draws `text` with its top-left corner at (x, y). Lower case is drawn as
    /// upper case; characters the font lacks are drawn as a small box.
    public mutating func text(_ text: String, x: Int, y: Int, _ c: RGB = .black, scale: Int = 1) {
        var cx = x
        for ch in text.uppercased() {
            let rows = Canvas.font[ch] ?? [0, 0x0E, 0x0A, 0x0A, 0x0A, 0x0E, 0]
            for (r, bits) in rows.enumerated() {
                for col in 0..<5 where bits & (0x10 >> col) != 0 {
                    fill(x: cx + col * scale, y: y + r * scale, width: scale, height: scale, c)
                }
            }
            cx += 6 * scale
        }
    }

    /// Draws `text` rotated a quarter turn anticlockwise (reading upwards), its
    /// bounding box's top-left corner at (x, y).
    public mutating func verticalText(_ text: String, x: Int, y: Int, _ c: RGB = .black, scale: Int = 1) {
        let w = Canvas.textWidth(text, scale: scale)
        var tmp = Canvas(width: w, height: 7 * scale, background: .white)
        tmp.text(text, x: 0, y: 0, .black, scale: scale)
        for ty in 0..<tmp.height { for tx in 0..<tmp.width where tmp.pixel(tx, ty) == .black {
            set(x + ty, y + (w - 1 - tx), c)
        } }
    }

    /// Writes the canvas as an RGB PNG file.
    public func writePNG(to path: String) throws {
        try RGBImage(width: width, height: height, pixels: pixels).writePNG(to: path)
    }

    /// Reads a PNG (any colour type) or JPEG file as RGB.
    public static func read(_ path: String) throws -> Canvas {
        let image = try RGBImage.read(path)
        var c = Canvas(width: image.width, height: image.height)
        c.pixels = image.pixels
        return c
    }

    /// 5×7 glyphs, one byte a row, bit 4 the leftmost column.
    static let font: [Character: [UInt8]] = [
        " ": [0, 0, 0, 0, 0, 0, 0],
        "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        "A": [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        "C": [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], "D": [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], "F": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        "Q": [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], "X": [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        "Y": [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04], "Z": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], ",": [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        "-": [0, 0, 0, 0x1F, 0, 0, 0], "_": [0, 0, 0, 0, 0, 0, 0x1F],
        "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03], ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        "/": [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0], "=": [0, 0, 0x1F, 0, 0x1F, 0, 0],
        "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        "*": [0, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0], "+": [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
    ]
}
