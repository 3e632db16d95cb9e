package packstream

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Decode decodes exactly one value from data. Bytes left after the value
// are malformed input. The zero Limits means all defaults.
func Decode(data []byte, lim Limits) (any, error) {
	lim = lim.WithDefaults()
	if len(data) > lim.MaxSize {
		return nil, limitErr("input size", len(data), lim.MaxSize)
	}
	d := decoder{b: data, lim: lim}
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.b) {
		return nil, fmt.Errorf("%w: %d trailing bytes at offset %d", ErrMalformed, len(d.b)-d.pos, d.pos)
	}
	return v, nil
}

type decoder struct {
	b   []byte
	pos int
	lim Limits
}

func (d *decoder) remaining() int { return len(d.b) - d.pos }

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrTruncated, n, d.pos, d.remaining())
	}
	p := d.b[d.pos : d.pos+n]
	d.pos += n
	return p, nil
}

// size reads a big-endian unsigned length of width 1, 2 or 4 bytes.
func (d *decoder) size(width int) (int, error) {
	p, err := d.take(width)
	if err != nil {
		return 0, err
	}
	switch width {
	case 1:
		return int(p[0]), nil
	case 2:
		return int(binary.BigEndian.Uint16(p)), nil
	default:
		u := binary.BigEndian.Uint32(p)
		if uint64(u) > math.MaxInt32 {
			// Larger than any limit can be on every platform; reject
			// before converting so 32-bit ints cannot overflow.
			return 0, fmt.Errorf("%w: length %d at offset %d", ErrLimit, u, d.pos-4)
		}
		return int(u), nil
	}
}

// value decodes one value; depth is the number of enclosing containers.
func (d *decoder) value(depth int) (any, error) {
	start := d.pos
	p, err := d.take(1)
	if err != nil {
		return nil, err
	}
	m := p[0]
	switch {
	case m <= 0x7F:
		return int64(m), nil
	case m >= 0xF0:
		return int64(int8(m)), nil
	case m&0xF0 == tinyString:
		return d.str(int(m & 0x0F))
	case m&0xF0 == tinyList:
		return d.list(int(m&0x0F), depth)
	case m&0xF0 == tinyMap:
		return d.dict(int(m&0x0F), depth)
	case m&0xF0 == tinyStruct:
		return d.structure(int(m&0x0F), depth)
	}
	switch m {
	case markerNull:
		return nil, nil
	case markerFalse:
		return false, nil
	case markerTrue:
		return true, nil
	case markerFloat:
		p, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(p)), nil
	case markerInt8:
		p, err := d.take(1)
		if err != nil {
			return nil, err
		}
		return int64(int8(p[0])), nil
	case markerInt16:
		p, err := d.take(2)
		if err != nil {
			return nil, err
		}
		return int64(int16(binary.BigEndian.Uint16(p))), nil
	case markerInt32:
		p, err := d.take(4)
		if err != nil {
			return nil, err
		}
		return int64(int32(binary.BigEndian.Uint32(p))), nil
	case markerInt64:
		p, err := d.take(8)
		if err != nil {
			return nil, err
		}
		return int64(binary.BigEndian.Uint64(p)), nil
	case markerBytes8, markerBytes16, markerBytes32:
		n, err := d.size(1 << (m - markerBytes8))
		if err != nil {
			return nil, err
		}
		if n > d.lim.MaxBytesLen {
			return nil, limitErr("byte array length", n, d.lim.MaxBytesLen)
		}
		p, err := d.take(n)
		if err != nil {
			return nil, err
		}
		return append(make([]byte, 0, n), p...), nil
	case markerString8, markerString16, markerString32:
		n, err := d.size(1 << (m - markerString8))
		if err != nil {
			return nil, err
		}
		return d.str(n)
	case markerList8, markerList16, markerList32:
		n, err := d.size(1 << (m - markerList8))
		if err != nil {
			return nil, err
		}
		return d.list(n, depth)
	case markerMap8, markerMap16, markerMap32:
		n, err := d.size(1 << (m - markerMap8))
		if err != nil {
			return nil, err
		}
		return d.dict(n, depth)
	case markerStruct8, markerStruct16:
		return nil, fmt.Errorf("%w: legacy large structure marker 0x%02X at offset %d", ErrMalformed, m, start)
	}
	return nil, fmt.Errorf("%w: reserved marker 0x%02X at offset %d", ErrMalformed, m, start)
}

func (d *decoder) str(n int) (string, error) {
	if n > d.lim.MaxStringLen {
		return "", limitErr("string length", n, d.lim.MaxStringLen)
	}
	p, err := d.take(n)
	if err != nil {
		return "", err
	}
	return string(p), nil
}

func (d *decoder) enter(depth int) error {
	if depth+1 > d.lim.MaxDepth {
		return limitErr("nesting depth", depth+1, d.lim.MaxDepth)
	}
	return nil
}

func (d *decoder) list(n, depth int) (any, error) {
	if err := d.enter(depth); err != nil {
		return nil, err
	}
	if n > d.lim.MaxListLen {
		return nil, limitErr("list length", n, d.lim.MaxListLen)
	}
	if n > d.remaining() { // every element takes at least one byte
		return nil, fmt.Errorf("%w: list of %d elements in %d bytes", ErrTruncated, n, d.remaining())
	}
	l := make([]any, n)
	for i := range l {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		l[i] = v
	}
	return l, nil
}

func (d *decoder) dict(n, depth int) (any, error) {
	if err := d.enter(depth); err != nil {
		return nil, err
	}
	if n > d.lim.MaxMapLen {
		return nil, limitErr("map size", n, d.lim.MaxMapLen)
	}
	if n > d.remaining()/2 { // every entry takes at least two bytes
		return nil, fmt.Errorf("%w: map of %d entries in %d bytes", ErrTruncated, n, d.remaining())
	}
	m := make(map[string]any, n)
	for range n {
		at := d.pos
		k, err := d.key()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%w: duplicate map key %q at offset %d", ErrMalformed, k, at)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}

// key decodes a map key, which must be a string.
func (d *decoder) key() (string, error) {
	p, err := d.take(1)
	if err != nil {
		return "", err
	}
	m := p[0]
	switch {
	case m&0xF0 == tinyString:
		return d.str(int(m & 0x0F))
	case m == markerString8 || m == markerString16 || m == markerString32:
		n, err := d.size(1 << (m - markerString8))
		if err != nil {
			return "", err
		}
		return d.str(n)
	}
	return "", fmt.Errorf("%w: map key with marker 0x%02X at offset %d is not a string", ErrMalformed, m, d.pos-1)
}

func (d *decoder) structure(n, depth int) (any, error) {
	if err := d.enter(depth); err != nil {
		return nil, err
	}
	p, err := d.take(1)
	if err != nil {
		return nil, err
	}
	s := Struct{Tag: p[0], Fields: make([]any, n)}
	for i := range s.Fields {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		s.Fields[i] = v
	}
	return s, nil
}
