package mgsim

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// storageInfo is SHOW STORAGE INFO: one [key, value] row per key, with the
// key set of the emulated release (see storageInfoLayout). Memory and disk
// figures describe the emulator process, in Memgraph's human-readable form.
func (in *Instance) storageInfo() [][]any {
	vertices := in.graph.liveCount()
	in.graph.mu.Lock()
	dbUUID := in.graph.dbUUID
	in.graph.mu.Unlock()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mem := readableSize(float64(ms.HeapInuse))
	peak := readableSize(float64(ms.Sys))
	disk := readableSize(float64(dirSize(in.cfg.DataDir)))
	zero := readableSize(0)
	const iso, mode = "SNAPSHOT_ISOLATION", "IN_MEMORY_TRANSACTIONAL"
	kv := func(pairs ...any) [][]any {
		rows := make([][]any, 0, len(pairs)/2)
		for i := 0; i+1 < len(pairs); i += 2 {
			rows = append(rows, []any{pairs[i], pairs[i+1]})
		}
		return rows
	}
	switch in.prof.storageInfo {
	case storageInfoV311:
		return kv(
			"vm_max_map_count", vmMaxMapCount(),
			"memory_res", mem,
			"peak_memory_res", peak,
			"disk_usage", disk,
			"memory_tracked", mem,
			"memory_limit", readableSize(float64(ms.Sys)*4),
			"license_memory_limit", "unlimited",
			"query+graph_memory_tracked", mem,
			"vector_index_memory_tracked", zero,
			"global_isolation_level", iso,
			"session_isolation_level", "",
			"next_session_isolation_level", "",
			"global_storage_mode", mode,
		)
	case storageInfoV310:
		return kv(
			"name", "memgraph",
			"database_uuid", dbUUID,
			"vertex_count", vertices,
			"edge_count", int64(0),
			"average_degree", 0.0,
			"vm_max_map_count", vmMaxMapCount(),
			"memory_res", mem,
			"peak_memory_res", peak,
			"unreleased_delta_objects", int64(0),
			"global_disk_usage", disk,
			"global_memory_tracked", mem,
			"global_runtime_allocation_limit", readableSize(float64(ms.Sys)*4),
			"global_license_allocation_limit", "unlimited",
			"db_memory_tracked", mem,
			"db_storage_memory_tracked", mem,
			"db_embedding_memory_tracked", zero,
			"db_query_memory_tracked", zero,
			"global_isolation_level", iso,
			"session_isolation_level", "",
			"next_session_isolation_level", "",
			"storage_mode", mode,
		)
	}
	rows := kv("name", "memgraph")
	if in.prof.storageInfo >= storageInfoV35 {
		rows = append(rows, []any{"database_uuid", dbUUID})
	}
	rows = append(rows, kv(
		"vertex_count", vertices,
		"edge_count", int64(0),
		"average_degree", 0.0,
		"vm_max_map_count", vmMaxMapCount(),
		"memory_res", mem,
		"peak_memory_res", peak,
		"unreleased_delta_objects", int64(0),
		"disk_usage", disk,
		"memory_tracked", mem,
		"allocation_limit", readableSize(float64(ms.Sys)*4),
	)...)
	if in.prof.storageInfo == storageInfoV39 {
		rows = append(rows, kv("graph_memory_tracked", mem, "vector_index_memory_tracked", zero)...)
	}
	return append(rows, kv(
		"global_isolation_level", iso,
		"session_isolation_level", "",
		"next_session_isolation_level", "",
		"storage_mode", mode,
	)...)
}

// readableSize is utils::GetReadableSize.
func readableSize(size float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for ; i+1 < len(units) && size >= 1024; i++ {
		size /= 1024
	}
	if i == 0 {
		return fmt.Sprintf("%.0f%s", size, units[i])
	}
	return fmt.Sprintf("%.2f%s", size, units[i])
}

// vmMaxMapCount reads vm.max_map_count as Memgraph does (-1 if unknown).
func vmMaxMapCount() int64 {
	b, err := os.ReadFile("/proc/sys/vm/max_map_count")
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func dirSize(dir string) int64 {
	var total int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}
