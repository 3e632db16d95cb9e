package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// MaxChunkSize is the largest payload of one chunk.
const MaxChunkSize = 65535

// DefaultMaxMessageSize is the default bound on one de-chunked message.
const DefaultMaxMessageSize = 16 << 20

// keepBuffer is the largest read buffer a MessageReader keeps between
// messages; a larger one (left by a big message) is dropped so that idle
// connections stay small.
const keepBuffer = 1 << 20

// ErrMessageTooLarge means a message exceeded the configured maximum size.
var ErrMessageTooLarge = errors.New("bolt: message too large")

// MessageReader de-chunks Bolt messages: each message is a sequence of
// chunks [u16 big-endian size][size bytes] ended by a zero-size chunk. A
// zero-size chunk with no message before it is a NOOP (keep-alive) and is
// skipped.
type MessageReader struct {
	r   io.Reader
	max int
	hdr [2]byte
	buf []byte
}

// NewMessageReader reads messages of at most maxSize bytes (zero or
// negative: DefaultMaxMessageSize) from r. r should be buffered.
func NewMessageReader(r io.Reader, maxSize int) *MessageReader {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	return &MessageReader{r: r, max: maxSize}
}

// ReadMessage returns the next message. The slice is valid until the next
// call. It returns io.EOF when the stream ends cleanly between messages,
// an error wrapping io.ErrUnexpectedEOF when it ends inside one, and an
// error wrapping ErrMessageTooLarge when a message would exceed the limit
// (the stream is then unusable).
func (m *MessageReader) ReadMessage() ([]byte, error) {
	if cap(m.buf) > keepBuffer {
		m.buf = nil
	}
	m.buf = m.buf[:0]
	started := false // a chunk header of this message has been read
	for {
		if _, err := io.ReadFull(m.r, m.hdr[:]); err != nil {
			if errors.Is(err, io.EOF) && !started {
				return nil, io.EOF
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("bolt: read chunk header: %w", err)
		}
		n := int(binary.BigEndian.Uint16(m.hdr[:]))
		if n == 0 {
			if len(m.buf) == 0 {
				started = false // NOOP between messages
				continue
			}
			return m.buf, nil
		}
		started = true
		if len(m.buf)+n > m.max {
			return nil, fmt.Errorf("%w: more than %d bytes", ErrMessageTooLarge, m.max)
		}
		at := len(m.buf)
		m.buf = slices.Grow(m.buf, n)[:at+n]
		if _, err := io.ReadFull(m.r, m.buf[at:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("bolt: read chunk of %d bytes: %w", n, err)
		}
	}
}

// AppendMessage appends msg to dst as chunks of at most MaxChunkSize bytes
// followed by the 00 00 end marker. An empty msg yields just the marker,
// which the peer reads as a NOOP.
func AppendMessage(dst, msg []byte) []byte {
	for len(msg) > 0 {
		n := min(len(msg), MaxChunkSize)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		dst = append(dst, msg[:n]...)
		msg = msg[n:]
	}
	return append(dst, 0, 0)
}

// WriteMessage writes msg to w chunked as AppendMessage does. w should be
// buffered: it receives one Write per chunk header and payload.
func WriteMessage(w io.Writer, msg []byte) error {
	var hdr [2]byte
	for len(msg) > 0 {
		n := min(len(msg), MaxChunkSize)
		binary.BigEndian.PutUint16(hdr[:], uint16(n))
		if _, err := w.Write(hdr[:]); err != nil {
			return fmt.Errorf("bolt: write chunk header: %w", err)
		}
		if _, err := w.Write(msg[:n]); err != nil {
			return fmt.Errorf("bolt: write chunk: %w", err)
		}
		msg = msg[n:]
	}
	hdr = [2]byte{}
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("bolt: write end of message: %w", err)
	}
	return nil
}
