package bolt

import (
	"encoding/binary"
	"fmt"
)

// Magic is the 4-byte preamble every Bolt client sends first (60 60 B0 17).
const Magic uint32 = 0x6060B017

// HandshakeSize is the length of the client handshake: the magic and four
// 4-byte version proposals.
const HandshakeSize = 20

// String formats v as "major.minor".
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// DefaultVersions returns the versions Memgraph 3.12 and later negotiate
// (src/communication/bolt/v1/constants.hpp), less 1.0, which the emulator
// does not implement: 4.0, 4.1, 4.3, 4.4 and 5.2.
func DefaultVersions() []Version {
	return []Version{{4, 0}, {4, 1}, {4, 3}, {4, 4}, {5, 2}}
}

// VersionsBefore312 returns the versions Memgraph 2.10 to 3.11 negotiate,
// less 1.0: 4.0, 4.1, 4.3 and 5.2.
func VersionsBefore312() []Version {
	return []Version{{4, 0}, {4, 1}, {4, 3}, {5, 2}}
}

// implemented reports whether the state machine implements v: exactly the
// versions of DefaultVersions.
func implemented(v Version) bool {
	switch v {
	case Version{4, 0}, Version{4, 1}, Version{4, 3}, Version{4, 4}, Version{5, 2}:
		return true
	}
	return false
}

// Negotiate picks a version from the four proposals that follow the magic,
// exactly as Memgraph's handshake.hpp does. Each proposal is 4 bytes
// [ignored, range, minor, major]. Slots are tried in client order; for each:
//
//  1. if major and minor are both non-zero, minors from minor down to
//     minor-min(range, minor) are tried against supported;
//  2. a slot whose minor and major are both zero ends the search;
//  3. otherwise the exact major.minor is tried (this is how 4.0 matches).
//
// The first match wins. ok is false when nothing matches; Memgraph then
// closes the connection without replying. The Bolt 5.7 manifest marker
// (00 00 01 FF) is a proposal of version 255.1 here, which never matches,
// so Memgraph and this function skip it.
func Negotiate(proposals [16]byte, supported []Version) (v Version, ok bool) {
	has := func(major, minor uint8) bool {
		for _, s := range supported {
			if s.Major == major && s.Minor == minor {
				return true
			}
		}
		return false
	}
	for i := 0; i < 4; i++ {
		slot := proposals[4*i : 4*i+4]
		rng, minor, major := slot[1], slot[2], slot[3]
		if major != 0 && minor != 0 {
			for k := uint8(0); k <= min(rng, minor); k++ {
				if has(major, minor-k) {
					return Version{Major: major, Minor: minor - k}, true
				}
			}
		}
		if major == 0 && minor == 0 {
			break
		}
		if has(major, minor) {
			return Version{Major: major, Minor: minor}, true
		}
	}
	return Version{}, false
}

// handshakeReply is the server's 4-byte answer for v: 00 00 minor major.
func handshakeReply(v Version) [4]byte {
	return [4]byte{0, 0, v.Minor, v.Major}
}

// checkMagic reports whether b starts with the Bolt magic.
func checkMagic(b []byte) bool {
	return len(b) >= 4 && binary.BigEndian.Uint32(b) == Magic
}
