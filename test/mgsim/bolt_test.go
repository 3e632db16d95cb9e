package mgsim

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// The real driver negotiates Bolt 5.2 with every release, and Memgraph's
// HELLO answer names the server; Bolt 4.4 is offered only from 3.12 (a
// client proposing only 4.4 gets 00 00 04 04 from 3.12 and a closed socket
// before).
func TestBoltNegotiation(t *testing.T) {
	for _, tc := range []struct {
		version string
		bolt44  bool
	}{{"3.6.1", false}, {"3.11.0", false}, {"3.12.0", true}} {
		t.Run(tc.version, func(t *testing.T) {
			n := startNode(t, "127.0.0.1", tc.version)
			info, err := n.c.drv.GetServerInfo(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if v := info.ProtocolVersion(); v.Major != 5 || v.Minor != 2 {
				t.Fatalf("negotiated %d.%d, want 5.2", v.Major, v.Minor)
			}
			if info.Agent() != "Neo4j/v5.11.0 compatible graph database server - Memgraph" {
				t.Fatalf("agent %q", info.Agent())
			}

			conn, err := net.DialTimeout("tcp", n.in.Addr(), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			hs := []byte{0x60, 0x60, 0xB0, 0x17, 0, 0, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			if _, err := conn.Write(hs); err != nil {
				t.Fatal(err)
			}
			reply := make([]byte, 4)
			_, err = io.ReadFull(conn, reply)
			if tc.bolt44 {
				if err != nil || !bytes.Equal(reply, []byte{0, 0, 4, 4}) {
					t.Fatalf("4.4 handshake: %x %v", reply, err)
				}
			} else if err == nil {
				t.Fatalf("4.4 accepted by %s: %x", tc.version, reply)
			}
		})
	}
}
