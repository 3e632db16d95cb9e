package api

import "time"

// ControllerStatus is the replication controller's view, in Status only
// on the gateway that leads and manages replication. JSON names follow
// the rules of Status: only ever added.
type ControllerStatus struct {
	// Running: the controller loop is running (false after it stopped,
	// until this gateway leads again).
	Running bool      `json:"running"`
	Updated time.Time `json:"updated"` // the loop's last tick
	// Epoch, Phase and Main are the route record the loop last read;
	// Target and From are set in phase failover.
	Epoch     uint64               `json:"epoch"`
	Phase     string               `json:"phase"`
	Main      string               `json:"main,omitempty"`
	Target    string               `json:"target,omitempty"`
	From      string               `json:"from,omitempty"`
	Instances []ControllerInstance `json:"instances"`
	Topology  Topology             `json:"topology"`
	Alerts    []Alert              `json:"alerts"`
	// Switchover is the request waiting for an answer, nil when none.
	Switchover *PendingSwitchover `json:"switchover,omitempty"`
	// LastFailover is the last failover or switchover this gateway ran as
	// leader (the one in progress while it has no result), nil when none.
	LastFailover *FailoverRecord `json:"lastFailover,omitempty"`
}

// ControllerInstance is a Memgraph instance as the leader probes it, with
// its replica row as the MAIN reports it.
type ControllerInstance struct {
	Name      string    `json:"name"`
	BoltAddr  string    `json:"boltAddr"`
	Known     bool      `json:"known"`              // discovery lists it
	Reachable bool      `json:"reachable"`          // the leader's last probe succeeded
	DownSince time.Time `json:"downSince,omitzero"` // start of the current run of failed probes
	Role      string    `json:"role"`               // "main", "replica", "" when not read
	Data      string    `json:"data"`               // "empty", "present", "" when not read
	// Registered: the MAIN lists it in SHOW REPLICAS; the row follows.
	Registered bool   `json:"registered"`
	Mode       string `json:"mode,omitempty"`   // STRICT_SYNC, SYNC, ASYNC
	Status     string `json:"status,omitempty"` // ready, replicating, recovery, invalid, diverged
	TS         int64  `json:"ts,omitempty"`
	// Behind is Memgraph's behind: 0 caught up, negative when lagging.
	Behind int64 `json:"behind"`
	Zombie bool  `json:"zombie,omitempty"` // registration without data_info
	// Diverged: holds data the MAIN lacks; never registered unless wiped.
	Diverged       bool   `json:"diverged"`
	DivergedDetail string `json:"divergedDetail,omitempty"`
}

// Topology is the replication as the MAIN reports it.
type Topology struct {
	Main          string   `json:"main,omitempty"`
	SyncReplica   string   `json:"syncReplica,omitempty"`
	AsyncReplicas []string `json:"asyncReplicas"`
}

// Alert is a condition the controller reports until it clears.
type Alert struct {
	Key    string    `json:"key"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// PendingSwitchover is a switchover request waiting for its answer.
type PendingSwitchover struct {
	Target    string    `json:"target"`
	Submitted time.Time `json:"submitted"`
}

// FailoverRecord is one failover or switchover, from its claim to the
// publish of a MAIN.
type FailoverRecord struct {
	Kind       string    `json:"kind"` // "failover", "switchover" or "bootstrap"
	Cause      string    `json:"cause"`
	From       string    `json:"from,omitempty"`   // the MAIN replaced
	Target     string    `json:"target"`           // the instance chosen
	Main       string    `json:"main,omitempty"`   // the instance published
	ClaimEpoch uint64    `json:"claimEpoch"`       // the first claim's epoch
	Epoch      uint64    `json:"epoch,omitempty"`  // the published epoch
	Start      time.Time `json:"start"`            // the first claim began
	End        time.Time `json:"end,omitzero"`     // the publish ended
	Result     string    `json:"result,omitempty"` // "ok", "aborted", "interrupted"; "" in progress
	Error      string    `json:"error,omitempty"`
	// DurationMs is End - Start in milliseconds: how long writes were
	// held. 0 while in progress.
	DurationMs float64        `json:"durationMs"`
	Steps      []FailoverStep `json:"steps"`
}

// FailoverStep is one executed step: claim, barrier, demote, promote,
// register or publish.
type FailoverStep struct {
	Name     string  `json:"name"`
	Instance string  `json:"instance,omitempty"`
	Epoch    uint64  `json:"epoch"`
	OffsetMs float64 `json:"offsetMs"` // start after the record's Start
	TookMs   float64 `json:"tookMs"`
	Error    string  `json:"error,omitempty"`
}

// Millis is d in milliseconds, with microsecond precision.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
