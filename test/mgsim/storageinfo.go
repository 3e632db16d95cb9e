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

// databaseStorageInfo is SHOW STORAGE INFO ON CURRENT DATABASE (3.11+):
// the rows of the session's database, which is always "memgraph" here.
// 3.12 adds "state" (always "HOT" for a loaded database) and "health"
// ("ready"; "broken" only after a storage failure, which is not emulated).
func (in *Instance) databaseStorageInfo() [][]any {
	vertices := in.graph.liveCount()
	in.graph.mu.Lock()
	dbUUID := in.graph.dbUUID
	in.graph.mu.Unlock()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mem := readableSize(float64(ms.HeapInuse))
	zero := readableSize(0)
	rows := [][]any{{"name", "memgraph"}, {"database_uuid", dbUUID}}
	if in.prof.storageInfoStateHealth {
		rows = append(rows, []any{"state", "HOT"})
	}
	rows = append(rows,
		[]any{"storage_mode", "IN_MEMORY_TRANSACTIONAL"},
		[]any{"vertex_count", vertices},
		[]any{"edge_count", int64(0)},
		[]any{"average_degree", 0.0},
		[]any{"unreleased_delta_objects", int64(0)},
		[]any{"disk_usage", readableSize(float64(dirSize(in.cfg.DataDir)))},
		[]any{"graph_memory_tracked", mem},
		[]any{"query_memory_tracked", zero},
		[]any{"vector_index_memory_tracked", zero},
		[]any{"tenant_memory_tracked", mem},
		[]any{"tenant_peak_memory_tracked", readableSize(float64(ms.Sys))},
		[]any{"tenant_memory_limit", "unlimited"},
		[]any{"storage_isolation_level", "SNAPSHOT_ISOLATION"},
	)
	if in.prof.storageInfoStateHealth {
		rows = append(rows, []any{"health", "ready"})
	}
	return rows
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
