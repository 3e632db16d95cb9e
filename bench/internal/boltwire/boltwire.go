// Package boltwire has the few bytes of the Bolt handshake that the
// benchmark needs: the 20-byte preamble a client sends (magic 60 60 B0 17
// followed by four 4-byte version proposals) and the 4-byte version the
// server answers. Nothing past the handshake is Bolt in this benchmark: the
// echo backend returns whatever it gets.
package boltwire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// PreambleLen is the length of the client's handshake.
const PreambleLen = 20

// Magic opens every Bolt connection.
var Magic = [4]byte{0x60, 0x60, 0xB0, 0x17}

// Version52 is the version the echo backend agrees to (Bolt 5.2), as sent on
// the wire: 00 00 minor major.
var Version52 = [4]byte{0x00, 0x00, 0x02, 0x05}

// Preamble returns the client preamble: the magic, then proposals for
// 5.2, 4.4 and two empty slots.
func Preamble() [PreambleLen]byte {
	var p [PreambleLen]byte
	copy(p[0:4], Magic[:])
	copy(p[4:8], Version52[:])
	copy(p[8:12], []byte{0x00, 0x00, 0x04, 0x04})
	return p
}

// ValidPreamble reports whether p starts with the Bolt magic.
func ValidPreamble(p []byte) bool {
	return len(p) >= 4 && bytes.Equal(p[:4], Magic[:])
}

// ErrNoVersion is returned when the server answers with version zero
// (none of the proposals agreed).
var ErrNoVersion = errors.New("boltwire: server agreed to no version")

// ClientHandshake sends the preamble on c and reads the server's 4-byte
// answer, all within timeout (0: no deadline). It clears the deadline after.
func ClientHandshake(c net.Conn, timeout time.Duration) ([4]byte, error) {
	var resp [4]byte
	if timeout > 0 {
		if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
			return resp, err
		}
		defer c.SetDeadline(time.Time{})
	}
	p := Preamble()
	if _, err := c.Write(p[:]); err != nil {
		return resp, fmt.Errorf("write preamble: %w", err)
	}
	if _, err := io.ReadFull(c, resp[:]); err != nil {
		return resp, fmt.Errorf("read version: %w", err)
	}
	if resp == [4]byte{} {
		return resp, ErrNoVersion
	}
	return resp, nil
}

// Dial connects to addr over TCP and does the client handshake; the whole
// operation is bounded by timeout.
func Dial(addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := ClientHandshake(c, timeout); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
