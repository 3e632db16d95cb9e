package cypher

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tkEOF    tokKind = iota
	tkError          // a lexical error; val holds the message
	tkWord           // unescaped name or keyword: [A-Za-z_][A-Za-z0-9_]*
	tkQuoted         // backtick-escaped name; val holds the name
	tkString         // string literal; val holds the decoded content
	tkInt            // decimal integer literal, unsigned
	tkFloat          // decimal float literal, unsigned
	tkPunct          // operator or punctuation; text holds it
)

// token is one lexical token. text is the token exactly as written (a slice
// of the query); off and end are its byte offsets; line (1-based) and col
// (0-based, in code points) locate its first character.
type token struct {
	kind      tokKind
	text      string
	val       string
	sem       string // tkString: semantic error met while decoding escapes
	off, end  int
	line, col int
}

// display is the token as ANTLR shows it in an error message: its text
// ("<EOF>" at the end), quoted.
func (t token) display() string { return quoteDisplay(t.rawText()) }

// rawText is the token's text as ANTLR's Token::getText returns it.
func (t token) rawText() string {
	if t.kind == tkEOF {
		return "<EOF>"
	}
	return t.text
}

// quoteDisplay escapes line breaks and tabs and wraps s in single quotes, as
// ANTLR's error strategy does.
func quoteDisplay(s string) string {
	s = strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
	return "'" + s + "'"
}

// maxErrorText bounds how much of an unterminated literal or comment a lexical
// error message quotes.
const maxErrorText = 32

// lexer produces tokens on demand. It never looks back, keeps no tokens and
// stops for good at the first error or at the end of input.
type lexer struct {
	src       string
	off       int
	line, col int
	stop      *token // set once an error or EOF has been produced
}

func newLexer(src string) *lexer { return &lexer{src: src, line: 1} }

// adv consumes one code point, keeping line and col as ANTLR counts them: a
// line feed starts a new line; every other code point is one column.
func (l *lexer) adv() {
	r, n := utf8.DecodeRuneInString(l.src[l.off:])
	l.off += n
	if r == '\n' {
		l.line++
		l.col = 0
	} else {
		l.col++
	}
}

func (l *lexer) at(i int) byte {
	if l.off+i < len(l.src) {
		return l.src[l.off+i]
	}
	return 0
}

// mark is a saved position, the start of a token.
type mark struct{ off, line, col int }

func (l *lexer) mark() mark { return mark{l.off, l.line, l.col} }

func (l *lexer) tok(m mark, kind tokKind) token {
	return token{kind: kind, text: l.src[m.off:l.off], off: m.off, end: l.off, line: m.line, col: m.col}
}

// fail ends lexing with a "token recognition error" at m, quoting the input
// from m to the current position (bounded by maxErrorText code points).
func (l *lexer) fail(m mark) token {
	text := l.src[m.off:l.off]
	if text == "" && l.off < len(l.src) {
		_, n := utf8.DecodeRuneInString(l.src[l.off:])
		text = l.src[l.off : l.off+n]
	}
	end := m.off + len(text)
	if utf8.RuneCountInString(text) > maxErrorText {
		i := 0
		for n := 0; n < maxErrorText; n++ {
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
		}
		text = text[:i] + "..."
	}
	t := token{kind: tkError, text: text, val: "token recognition error at: " + quoteDisplay(text),
		off: m.off, end: end, line: m.line, col: m.col}
	l.stop = &t
	return t
}

func isNameStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isNamePart(c byte) bool { return isNameStart(c) || isDigit(c) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// twoCharPuncts are the multi-character operators of openCypher (and "!=").
// They are lexed so that valid Cypher outside the subset fails in the parser
// with a "mismatched input" rather than in the lexer.
var twoCharPuncts = []string{"..", "<>", "<=", ">=", "+=", "=~", "!="}

const oneCharPuncts = "()[]{},;:.=<>+-*/%^|$"

// next returns the next token. After an error or the end of input it keeps
// returning that same token.
func (l *lexer) next() token {
	if l.stop != nil {
		return *l.stop
	}
	if t, ok := l.skip(); !ok {
		return t
	}
	m := l.mark()
	if l.off >= len(l.src) {
		t := l.tok(m, tkEOF)
		l.stop = &t
		return t
	}
	c := l.src[l.off]
	switch {
	case isNameStart(c):
		for l.off < len(l.src) && isNamePart(l.src[l.off]) {
			l.off++
			l.col++
		}
		return l.tok(m, tkWord)
	case c == '`':
		return l.quoted(m)
	case c == '"' || c == '\'':
		return l.str(m)
	case isDigit(c) || (c == '.' && isDigit(l.at(1))):
		return l.number(m)
	}
	for _, p := range twoCharPuncts {
		if strings.HasPrefix(l.src[l.off:], p) {
			l.off += 2
			l.col += 2
			return l.tok(m, tkPunct)
		}
	}
	if strings.IndexByte(oneCharPuncts, c) >= 0 {
		l.adv()
		return l.tok(m, tkPunct)
	}
	return l.fail(m)
}

// skip consumes white space and comments. It returns false and an error
// token for an unterminated block comment.
func (l *lexer) skip() (token, bool) {
	for l.off < len(l.src) {
		r, _ := utf8.DecodeRuneInString(l.src[l.off:])
		switch {
		case unicode.IsSpace(r):
			l.adv()
		case strings.HasPrefix(l.src[l.off:], "//"):
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.adv()
			}
		case strings.HasPrefix(l.src[l.off:], "/*"):
			m := l.mark()
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				for l.off < len(l.src) {
					l.adv()
				}
				return l.fail(m), false
			}
			stop := l.off + 2 + end + 2
			for l.off < stop {
				l.adv()
			}
		default:
			return token{}, true
		}
	}
	return token{}, true
}

// quoted lexes a backtick-escaped name; a doubled backtick stands for one.
// The empty name “ is refused.
func (l *lexer) quoted(m mark) token {
	l.adv()
	var b strings.Builder
	for {
		if l.off >= len(l.src) {
			return l.fail(m)
		}
		if l.src[l.off] == '`' {
			l.adv()
			if l.at(0) == '`' {
				b.WriteByte('`')
				l.adv()
				continue
			}
			break
		}
		start := l.off
		l.adv()
		b.WriteString(l.src[start:l.off])
	}
	if b.Len() == 0 {
		return l.fail(m)
	}
	t := l.tok(m, tkQuoted)
	t.val = b.String()
	return t
}

// number lexes a decimal integer or float: digits, an optional fraction and
// an optional exponent, or a fraction alone (.5). Hexadecimal (0x1F) and
// integers with a leading zero (017, which Memgraph reads as octal) are
// refused. Like ANTLR's lexer it stops before any other letter: 12abc is 12
// followed by the name abc.
func (l *lexer) number(m mark) token {
	digits := func() {
		for isDigit(l.at(0)) {
			l.off++
			l.col++
		}
	}
	float := false
	digits()
	if l.at(0) == '.' && isDigit(l.at(1)) {
		float = true
		l.off++
		l.col++
		digits()
	}
	if c := l.at(0); c == 'e' || c == 'E' {
		if isDigit(l.at(1)) || ((l.at(1) == '+' || l.at(1) == '-') && isDigit(l.at(2))) {
			float = true
			l.off += 2
			l.col += 2
			digits()
		}
	}
	if float {
		return l.tok(m, tkFloat)
	}
	if c := l.at(0); l.off-m.off == 1 && l.src[m.off] == '0' && (c == 'x' || c == 'X') {
		for isNamePart(l.at(0)) {
			l.off++
			l.col++
		}
		return l.fail(m)
	}
	if l.off-m.off > 1 && l.src[m.off] == '0' {
		return l.fail(m)
	}
	return l.tok(m, tkInt)
}

// str lexes a string literal in single or double quotes. Escapes are those
// Memgraph decodes: \\ \' \" \b \f \n \r \t (letters in either case), \u
// with 4 hex digits (a UTF-16 code unit; a high surrogate must be followed by
// a \u low surrogate) and \U with 8 hex digits. Any other escape is a lexical
// error; an escape naming an invalid code point is a semantic error, recorded
// in sem as Memgraph reports it only after parsing.
func (l *lexer) str(m mark) token {
	quote := l.src[l.off]
	l.adv()
	var b strings.Builder
	sem := ""
	for {
		if l.off >= len(l.src) {
			return l.fail(m)
		}
		c := l.src[l.off]
		if c == quote {
			l.adv()
			break
		}
		if c != '\\' {
			start := l.off
			l.adv()
			b.WriteString(l.src[start:l.off])
			continue
		}
		e := l.at(1)
		if ch, ok := simpleEscapes[e]; ok {
			b.WriteByte(ch)
			l.off += 2
			l.col += 2
			continue
		}
		switch {
		case e == 'u' && l.hexAt(2, 4):
			u := hexValue(l.src[l.off+2 : l.off+6])
			l.off += 6
			l.col += 6
			switch {
			case u >= 0xD800 && u <= 0xDBFF:
				if l.at(0) == '\\' && (l.at(1) == 'u' || l.at(1) == 'U') && l.hexAt(2, 4) {
					low := hexValue(l.src[l.off+2 : l.off+6])
					l.off += 6
					l.col += 6
					if low >= 0xDC00 && low <= 0xDFFF {
						b.WriteRune(rune(0x10000 + (u-0xD800)<<10 + (low - 0xDC00)))
						continue
					}
				}
				if sem == "" {
					sem = msgCodepoint
				}
			case u >= 0xDC00 && u <= 0xDFFF:
				if sem == "" {
					sem = msgCodepoint
				}
			default:
				b.WriteRune(rune(u))
			}
		case e == 'U' && l.hexAt(2, 8):
			u := hexValue(l.src[l.off+2 : l.off+10])
			l.off += 10
			l.col += 10
			if u > unicode.MaxRune || (u >= 0xD800 && u <= 0xDFFF) {
				if sem == "" {
					sem = msgCodepoint
				}
				continue
			}
			b.WriteRune(rune(u))
		default:
			if l.off+1 < len(l.src) {
				l.adv()
				l.adv()
			} else {
				l.adv()
			}
			return l.fail(m)
		}
	}
	t := l.tok(m, tkString)
	t.val = b.String()
	t.sem = sem
	return t
}

// simpleEscapes maps the letter after a backslash to the byte it stands for.
var simpleEscapes = map[byte]byte{'\\': '\\', '\'': '\'', '"': '"', 'b': '\b', 'B': '\b',
	'f': '\f', 'F': '\f', 'n': '\n', 'N': '\n', 'r': '\r', 'R': '\r', 't': '\t', 'T': '\t'}

// hexAt reports whether n hex digits start i bytes after the current offset.
func (l *lexer) hexAt(i, n int) bool {
	if l.off+i+n > len(l.src) {
		return false
	}
	for k := 0; k < n; k++ {
		if !isHex(l.src[l.off+i+k]) {
			return false
		}
	}
	return true
}

func hexValue(s string) uint32 {
	var v uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			v = v<<4 | uint32(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uint32(c-'a'+10)
		default:
			v = v<<4 | uint32(c-'A'+10)
		}
	}
	return v
}
