package mgsim

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// The data directory:
//
//	<DataDir>/replication/state.json  role, main UUID, port, registered replicas
//	<DataDir>/storage/snapshot.json   the storage at some durable timestamp
//	<DataDir>/storage/wal.log         records after the snapshot
//
// Every write reaches the file with write(2) before the operation it
// records is acknowledged (and is fsynced first when Config.Fsync is set),
// so killing the process loses nothing acknowledged. JSON files are
// replaced atomically (write a temporary file, rename). A WAL record is
// [u32 length][u32 CRC-32C][JSON]; a torn or corrupt tail, which only a
// crash in the middle of a write leaves, is cut off on startup.

const (
	maxStateFileBytes    = 1 << 20
	maxSnapshotFileBytes = 1 << 30
	walHeaderBytes       = 8
)

var (
	errKilled   = errors.New("mgsim: instance killed")
	crcTable    = crc32.MakeTable(crc32.Castagnoli)
	errCorrupt  = errors.New("mgsim: corrupt record")
	errTooLarge = errors.New("mgsim: record too large")
)

// walEntry is one WAL record: a committed transaction or an epoch change.
type walEntry struct {
	Txn   *txnRecord  `json:"txn,omitempty"`
	Epoch *epochState `json:"epoch,omitempty"`
}

// epochState is the epoch and history after a change of epoch.
type epochState struct {
	Epoch   string       `json:"epoch"`
	History []epochEntry `json:"history,omitempty"`
	TS      uint64       `json:"ts"` // storage timestamp after the change
}

// replState is the persisted replication state (Memgraph's kvstore under
// <data-dir>/replication).
type replState struct {
	Role     string         `json:"role"`
	MainUUID string         `json:"main_uuid"`
	Port     int            `json:"port,omitempty"`
	Replicas []replicaEntry `json:"replicas,omitempty"`
}

// replicaEntry is one registered replica as written in REGISTER REPLICA.
type replicaEntry struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port"`
	Mode string `json:"mode"`
}

type store struct {
	dir           string
	fsync         bool
	maxRecord     int
	snapshotEvery int

	mu         sync.Mutex
	killed     bool
	wal        *os.File
	walRecords int
}

func (s *store) replPath() string     { return filepath.Join(s.dir, "replication", "state.json") }
func (s *store) snapshotPath() string { return filepath.Join(s.dir, "storage", "snapshot.json") }
func (s *store) walPath() string      { return filepath.Join(s.dir, "storage", "wal.log") }

// openStore opens the data directory, creating it if needed, and returns
// what it holds: the snapshot (nil if none) and the WAL records after it.
func openStore(dir string, fsync bool, maxRecord, snapshotEvery int) (*store, *snapshot, []walEntry, error) {
	s := &store{dir: dir, fsync: fsync, maxRecord: maxRecord, snapshotEvery: snapshotEvery}
	for _, d := range []string{filepath.Join(dir, "replication"), filepath.Join(dir, "storage")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, nil, fmt.Errorf("mgsim: create data directory: %w", err)
		}
	}
	var snap *snapshot
	b, err := readBounded(s.snapshotPath(), maxSnapshotFileBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, nil, err
	default:
		snap = new(snapshot)
		if err := json.Unmarshal(b, snap); err != nil {
			return nil, nil, nil, fmt.Errorf("mgsim: parse %s: %w", s.snapshotPath(), err)
		}
	}
	f, err := os.OpenFile(s.walPath(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mgsim: open wal: %w", err)
	}
	entries, good, err := readWAL(f, maxRecord)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	// Cut a torn tail and append after the last good record.
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("mgsim: truncate wal: %w", err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("mgsim: seek wal: %w", err)
	}
	s.wal = f
	s.walRecords = len(entries)
	return s, snap, entries, nil
}

// readWAL reads records until the end or the first bad one and returns
// the good ones and the offset after the last of them.
func readWAL(f *os.File, maxRecord int) ([]walEntry, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, fmt.Errorf("mgsim: seek wal: %w", err)
	}
	r := bufio.NewReader(f)
	var out []walEntry
	var off int64
	for {
		payload, err := readRecord(r, maxRecord)
		if err != nil {
			// io.EOF, a torn tail or a corrupt record: stop here.
			return out, off, nil
		}
		var e walEntry
		if err := json.Unmarshal(payload, &e); err != nil || (e.Txn == nil) == (e.Epoch == nil) {
			return out, off, nil
		}
		out = append(out, e)
		off += int64(walHeaderBytes + len(payload))
	}
}

func readRecord(r io.Reader, maxRecord int) ([]byte, error) {
	var h [walHeaderBytes]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[0:4])
	if int64(n) > int64(maxRecord) {
		return nil, errTooLarge
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(h[4:8]) {
		return nil, errCorrupt
	}
	return payload, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("mgsim: read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("mgsim: %s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// appendEntry writes one WAL record.
func (s *store) appendEntry(e walEntry) error {
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("mgsim: encode wal record: %w", err)
	}
	if len(payload) > s.maxRecord {
		return fmt.Errorf("mgsim: wal record of %d bytes: %w", len(payload), errTooLarge)
	}
	buf := make([]byte, walHeaderBytes+len(payload))
	binary.BigEndian.PutUint32(buf[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(buf[4:8], crc32.Checksum(payload, crcTable))
	copy(buf[walHeaderBytes:], payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.killed || s.wal == nil {
		return errKilled
	}
	if _, err := s.wal.Write(buf); err != nil {
		return fmt.Errorf("mgsim: write wal: %w", err)
	}
	if s.fsync {
		if err := s.wal.Sync(); err != nil {
			return fmt.Errorf("mgsim: sync wal: %w", err)
		}
	}
	s.walRecords++
	return nil
}

func (s *store) appendTxn(rec txnRecord) error { return s.appendEntry(walEntry{Txn: &rec}) }

func (s *store) appendEpoch(e epochState) error { return s.appendEntry(walEntry{Epoch: &e}) }

// wantsSnapshot reports whether the WAL has grown enough to fold it.
func (s *store) wantsSnapshot() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.walRecords >= s.snapshotEvery
}

// writeSnapshot replaces the snapshot and empties the WAL. The caller
// guarantees no record is appended concurrently (it holds the commit lock).
func (s *store) writeSnapshot(snap snapshot) error {
	b, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("mgsim: encode snapshot: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.killed || s.wal == nil {
		return errKilled
	}
	if err := s.writeFileLocked(s.snapshotPath(), b); err != nil {
		return err
	}
	if err := s.wal.Truncate(0); err != nil {
		return fmt.Errorf("mgsim: truncate wal: %w", err)
	}
	if _, err := s.wal.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("mgsim: seek wal: %w", err)
	}
	s.walRecords = 0
	return nil
}

// writeFileLocked replaces path atomically.
func (s *store) writeFileLocked(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("mgsim: create %s: %w", tmp, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("mgsim: write %s: %w", tmp, err)
	}
	if s.fsync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("mgsim: sync %s: %w", tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("mgsim: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("mgsim: rename %s: %w", tmp, err)
	}
	if s.fsync {
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return nil
}

// saveRepl persists the replication state.
func (s *store) saveRepl(st replState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("mgsim: encode replication state: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.killed {
		return errKilled
	}
	return s.writeFileLocked(s.replPath(), b)
}

// loadRepl reads the persisted replication state; nil when there is none.
func (s *store) loadRepl() (*replState, error) {
	b, err := readBounded(s.replPath(), maxStateFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st replState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("mgsim: parse %s: %w", s.replPath(), err)
	}
	if st.Role != "main" && st.Role != "replica" {
		return nil, fmt.Errorf("mgsim: %s: unknown role %q", s.replPath(), st.Role)
	}
	return &st, nil
}

// kill stops all writing at once, as kill -9 would.
func (s *store) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killed = true
	if s.wal != nil {
		s.wal.Close()
		s.wal = nil
	}
}

// close syncs and closes the WAL.
func (s *store) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wal == nil {
		return nil
	}
	err := s.wal.Sync()
	if cerr := s.wal.Close(); err == nil {
		err = cerr
	}
	s.wal = nil
	s.killed = true
	return err
}
