import CNCurses
import Dashboard
import Foundation

/// The one place that talks to ncurses: it sets the terminal up and restores it, copies a
/// ``Screen`` to it, and reads keys.
public final class Terminal: DashboardBackend {
    private let window: UnsafeMutablePointer<WINDOW>
    private let usesColor: Bool
    /// A descriptor that becomes readable on SIGINT, SIGTERM or SIGHUP, or -1.
    public let signalDescriptor: Int32
    private var isActive = true

    /// Takes over the terminal. Call ``end()`` on every way out.
    public init(colors: Bool) {
        setlocale(LC_ALL, "")
        signalDescriptor = locktop_termination_signalfd()
        locktop_install_crash_handler()
        initscr()
        window = locktop_stdscr()!
        cbreak()
        noecho()
        nonl()
        keypad(window, true)
        nodelay(window, true)
        set_escdelay(25)
        _ = locktop_enable_mouse()
        curs_set(0)
        usesColor = colors && has_colors()
        if usesColor {
            start_color()
            use_default_colors()
            for role in ColorRole.allCases {
                let (foreground, background) = Self.colors(for: role)
                init_pair(Int16(role.rawValue) + 1, foreground, background)
            }
        }
    }

    deinit { end() }

    /// Restores the terminal. Safe to call more than once.
    public func end() {
        guard isActive else { return }
        isActive = false
        endwin()
    }

    /// Standard input, where keys arrive.
    public var inputDescriptor: Int32 { STDIN_FILENO }

    /// The terminal size in columns and rows.
    public var size: (width: Int, height: Int) {
        (Int(getmaxx(window)), Int(getmaxy(window)))
    }

    /// The curses pair of `role`: its ANSI colour (curses numbers them the same) on the default background.
    static func colors(for role: ColorRole) -> (Int16, Int16) {
        (role.ansiColor ?? -1, -1)
    }

    func attributes(for style: CellStyle) -> attr_t {
        var attributes = locktop_attr_normal()
        if style.bold { attributes |= locktop_attr_bold() }
        if style.reverse { attributes |= locktop_attr_reverse() }
        if style.role == .dim { attributes |= locktop_attr_dim() }
        if usesColor {
            attributes |= attr_t(COLOR_PAIR(Int32(style.role.rawValue) + 1))
        } else if !style.reverse, [.expired, .stale, .unreadable, .suspect].contains(style.role) {
            attributes |= locktop_attr_underline()
        }
        return attributes
    }

    /// Copies `screen` to the terminal, one run of equally styled cells at a time.
    public func draw(_ screen: Screen) {
        let (width, height) = size
        for y in 0..<min(height, screen.height) {
            var x = 0
            let rowWidth = min(width, screen.width)
            while x < rowWidth {
                let style = screen[x, y].style
                var run: [wchar_t] = []
                let start = x
                while x < rowWidth, screen[x, y].style == style {
                    for scalar in screen[x, y].character.unicodeScalars.prefix(1) {
                        run.append(wchar_t(bitPattern: scalar.value))
                    }
                    x += 1
                }
                wattrset(window, Int32(bitPattern: attributes(for: style)))
                run.append(0)
                mvwaddnwstr(window, Int32(y), Int32(start), run, Int32(run.count - 1))
            }
        }
        wnoutrefresh(window)
        doupdate()
    }

    /// Every pending key or resize, without waiting.
    public func readInput() -> [TerminalInput] {
        var inputs: [TerminalInput] = []
        var character: wint_t = 0
        while true {
            let result = wget_wch(window, &character)
            if result == ERR { return inputs }
            if result == KEY_CODE_YES {
                if Int32(character) == KEY_RESIZE {
                    let (width, height) = size
                    inputs.append(.resize(width: width, height: height))
                } else if Int32(character) == KEY_MOUSE {
                    var x: Int32 = 0
                    var y: Int32 = 0
                    switch locktop_read_mouse(&x, &y) {
                    case 1: inputs.append(.click(x: Int(x), y: Int(y)))
                    case 2: inputs.append(.wheel(lines: -3))
                    case 3: inputs.append(.wheel(lines: 3))
                    default: break
                    }
                } else if let key = Self.key(forCode: Int32(character)) {
                    inputs.append(.key(key))
                }
            } else if let key = Self.key(forCharacter: UInt32(character)) {
                inputs.append(.key(key))
            }
        }
    }

    static func key(forCode code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_ENTER: return .enter
        case KEY_BACKSPACE: return .backspace
        case KEY_F0 + 1...KEY_F0 + 12: return .function(Int(code - KEY_F0))
        default: return nil
        }
    }

    static func key(forCharacter value: UInt32) -> Key? {
        switch value {
        case 10, 13: return .enter
        case 9: return .tab
        case 27: return .escape
        case 8, 127: return .backspace
        case 1...26 where value != 9: return .control(Character(Unicode.Scalar(UInt8(value + 0x60))))
        case 0..<32: return nil
        default: return Unicode.Scalar(value).map { .character(Character($0)) }
        }
    }

    /// Writes OSC 52 (`ESC ] 52 ; c ; BASE64 BEL`) past ncurses, after the screen is out: the
    /// terminal, or tmux with `set-clipboard on`, puts the text on its clipboard. Base64 keeps any
    /// byte of the text from reaching the terminal as a control.
    public func copyToClipboard(_ text: String) {
        doupdate()
        let sequence = Array("\u{1B}]52;c;\(Data(text.utf8).base64EncodedString())\u{07}".utf8)
        var written = 0
        while written < sequence.count {
            let count = sequence[written...].withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            written += count
        }
    }

    /// Reads the termination signal that made ``signalDescriptor`` readable, or 0.
    public func readSignal() -> Int32 {
        signalDescriptor >= 0 ? locktop_read_signal(signalDescriptor) : 0
    }
}
