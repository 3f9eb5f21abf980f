/// An interactive SVG flame graph of a profile (`kimera profile cpu --flame FILE.svg`), drawn by Kimera itself
/// so that no Perl or browser tool is needed (docs/OPERATIONS.md "CPU profiles"). The root is at the bottom; a frame's width
/// is its share of the samples; hovering shows the function, its samples and its share; clicking a frame
/// zooms to it and clicking the title (or the background) zooms out. The file is plain SVG 1.1 with a small
/// script, well-formed XML (`xmllint --noout`), readable in any browser.
public struct FlameGraph {
    /// A function on the call tree: its samples, and its callees by name, in name order when drawn.
    final class Node {
        let name: String
        var count = 0
        var children: [String: Node] = [:]

        init(name: String) { self.name = name }
    }

    public var title: String
    public var width = 1200
    /// Frames narrower than this many pixels are left out (their samples still count in their callers).
    public var minimumWidth = 0.3
    let root = Node(name: "all")
    var depth = 0

    /// A flame graph of `stacks`, outermost function first, with their sample counts.
    public init(title: String, stacks: [(functions: [String], count: Int)]) {
        self.title = title
        for (functions, count) in stacks where count > 0 {
            root.count += count
            var node = root
            for function in functions {
                if let child = node.children[function] {
                    node = child
                } else {
                    let child = Node(name: function)
                    node.children[function] = child
                    node = child
                }
                node.count += count
            }
            depth = max(depth, functions.count)
        }
    }

    static let frameHeight = 16
    static let top = 36
    static let bottom = 24

    /// The SVG document.
    public func svg() -> String {
        let height = Self.top + (depth + 1) * Self.frameHeight + Self.bottom
        let total = max(1, root.count)
        var out = """
            <?xml version="1.0" encoding="UTF-8" standalone="no"?>
            <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(width)" height="\(height)" \
            viewBox="0 0 \(width) \(height)" font-family="monospace" font-size="12">
            <style>.f:hover rect { stroke: #000; stroke-width: 0.5; } .f { cursor: pointer; } \
            text { pointer-events: none; }</style>
            <rect x="0" y="0" width="\(width)" height="\(height)" fill="#f8f8f8" id="background"/>
            <text x="\(width / 2)" y="20" text-anchor="middle" font-size="15" id="title">\(Self.escaped(title))</text>
            <text x="10" y="\(height - 8)" id="details"> </text>
            <text x="\(width - 10)" y="\(height - 8)" text-anchor="end" id="unzoom" visibility="hidden">\
            Reset zoom</text>
            <g id="frames">

            """
        var frames: [(node: Node, x: Int, level: Int)] = [(root, 0, 0)]
        while let (node, x, level) = frames.popLast() {
            let fraction = Double(node.count) / Double(total)
            guard fraction * Double(width) >= minimumWidth else { continue }
            let xFraction = Double(x) / Double(total)
            let y = height - Self.bottom - (level + 1) * Self.frameHeight
            let share = Self.percent(fraction)
            let samples = node.count == 1 ? "1 sample" : "\(node.count) samples"
            out += """
                <g class="f" data-x="\(xFraction)" data-w="\(fraction)"><title>\(Self.escaped(node.name)) \
                (\(samples), \(share))</title><rect x="\(Self.pixels(xFraction * Double(width)))" y="\(y)" \
                width="\(Self.pixels(fraction * Double(width)))" height="\(Self.frameHeight - 1)" rx="2" \
                fill="\(Self.color(node.name))"/><text x="\(Self.pixels(xFraction * Double(width) + 3))" \
                y="\(y + 11)">\(Self.escaped(Self.label(node.name, width: fraction * Double(width))))</text></g>

                """
            var offset = x
            var children: [(Node, Int, Int)] = []
            for name in node.children.keys.sorted() {
                let child = node.children[name]!
                children.append((child, offset, level + 1))
                offset += child.count
            }
            frames.append(contentsOf: children.reversed())
        }
        out += "</g>\n<script type=\"text/ecmascript\"><![CDATA[\n\(Self.script(width: width))]]></script>\n</svg>\n"
        return out
    }

    /// The text a frame of `width` pixels shows: the name, cut with ".." when it does not fit, nothing when
    /// not even three characters fit (7 px a character at 12 px monospace).
    static func label(_ name: String, width: Double) -> String {
        let fits = Int((width - 6) / 7)
        if fits < 3 { return "" }
        if name.count <= fits { return name }
        return String(name.prefix(fits - 2)) + ".."
    }

    static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            // Characters XML 1.0 does not allow at all.
            case _ where scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r": out += "?"
            case "\u{FFFE}", "\u{FFFF}": out += "?"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func pixels(_ value: Double) -> String {
        let tenths = (value * 10).rounded() / 10
        return tenths == tenths.rounded() ? String(Int(tenths)) : String(tenths)
    }

    static func percent(_ fraction: Double) -> String {
        let hundredths = (fraction * 10000).rounded() / 100
        return "\(hundredths)%"
    }

    /// A warm color from the name, the same for the same function in every graph.
    static func color(_ name: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in name.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        let red = 205 + Int(hash % 50)
        let green = 80 + Int((hash >> 8) % 130)
        let blue = 30 + Int((hash >> 16) % 40)
        return "rgb(\(red),\(green),\(blue))"
    }

    /// Zoom on click, reset on the title or background, the hovered frame's details at the bottom.
    static func script(width: Int) -> String {
        """
        var W = \(width);
        var frames = document.getElementById("frames").getElementsByTagName("g");
        var details = document.getElementById("details").firstChild;
        var unzoom = document.getElementById("unzoom");
        function label(name, w) {
          var fits = Math.floor((w - 6) / 7);
          if (fits < 3) return "";
          return name.length <= fits ? name : name.substring(0, fits - 2) + "..";
        }
        function name(g) { var t = g.getElementsByTagName("title")[0].textContent; return t.substring(0, t.lastIndexOf(" (")); }
        function zoom(zx, zw) {
          for (var i = 0; i < frames.length; i++) {
            var g = frames[i];
            var x = (parseFloat(g.getAttribute("data-x")) - zx) / zw;
            var w = parseFloat(g.getAttribute("data-w")) / zw;
            var r = g.getElementsByTagName("rect")[0], t = g.getElementsByTagName("text")[0];
            if (x + w <= 0.0000001 || x >= 0.9999999) { g.setAttribute("visibility", "hidden"); continue; }
            if (x < 0) { w += x; x = 0; }
            if (x + w > 1) { w = 1 - x; }
            g.setAttribute("visibility", "visible");
            r.setAttribute("x", x * W); r.setAttribute("width", w * W);
            t.setAttribute("x", x * W + 3); t.textContent = label(name(g), w * W);
          }
          unzoom.setAttribute("visibility", zw < 1 ? "visible" : "hidden");
        }
        for (var i = 0; i < frames.length; i++) {
          frames[i].addEventListener("click", function () {
            zoom(parseFloat(this.getAttribute("data-x")), parseFloat(this.getAttribute("data-w")));
          });
          frames[i].addEventListener("mouseover", function () {
            details.nodeValue = this.getElementsByTagName("title")[0].textContent;
          });
          frames[i].addEventListener("mouseout", function () { details.nodeValue = " "; });
        }
        unzoom.addEventListener("click", function () { zoom(0, 1); });
        document.getElementById("title").addEventListener("click", function () { zoom(0, 1); });
        document.getElementById("background").addEventListener("click", function () { zoom(0, 1); });

        """
    }
}
