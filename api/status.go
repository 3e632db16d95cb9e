package api

import "time"

// Status is the body of GET /status. Its JSON names are the API's contract
// (the `status` command and operators' scripts read them): fields are only
// ever added, never renamed.
type Status struct {
	ID        string    `json:"id"`        // this gateway (GATEWAY_ID or the host name)
	Version   string    `json:"version"`   // filled by the Server from Options.Build
	Commit    string    `json:"commit"`    // filled by the Server
	GoVersion string    `json:"goVersion"` // filled by the Server
	Started   time.Time `json:"started"`
	// Ready and NotReadyReason repeat /readyz; filled by the Server from
	// StatusProvider.Ready.
	Ready          bool   `json:"ready"`
	NotReadyReason string `json:"notReadyReason,omitempty"`
	Draining       bool   `json:"draining"`
	// Route is the route installed in the proxy; nil before the first one
	// or when the proxy is disabled.
	Route     *Route     `json:"route"`
	Listeners []Listener `json:"listeners"`
	// Connections counts the proxy's connections; nil when it is disabled.
	Connections *Connections `json:"connections"`
	// Election is the leader election as this gateway sees it; nil with
	// GATEWAY_ELECTION=none.
	Election *Election `json:"election,omitempty"`
	// Discovery lists the Memgraph instances; nil without discovery.
	Discovery *Discovery `json:"discovery,omitempty"`
	// Controller is the replication controller's view (instances,
	// topology, alerts, last failover); only on the leader when it
	// manages replication, nil elsewhere.
	Controller *ControllerStatus `json:"controller,omitempty"`
	// Gossip is this gateway's route lease and the gateway members; nil
	// without gossip.
	Gossip *Gossip `json:"gossip,omitempty"`
}

// Gossip is the route-lease state of one gateway and the members it sees.
type Gossip struct {
	// Routing: this gateway holds a lease on its route's epoch and relays.
	Routing bool `json:"routing"`
	// LeaseExpiry is when the lease ends unless renewed (zero: none).
	LeaseExpiry time.Time `json:"leaseExpiry,omitzero"`
	// Leader is the leader the gateway asks for leases.
	Leader  string   `json:"leader,omitempty"`
	Members []Member `json:"members"`
}

// Member is a gateway as gossip reports it.
type Member struct {
	Name  string `json:"name"`
	State string `json:"state"` // alive, suspect, failed
	Local bool   `json:"local,omitempty"`
	Epoch uint64 `json:"epoch"`
	// Main and MainReachable: the MAIN this member probes and whether it
	// answered its last probe (the leader's failover quorum).
	Main          string `json:"main,omitempty"`
	MainReachable bool   `json:"mainReachable"`
	// HeartbeatAgeSeconds is how long ago its last heartbeat arrived.
	HeartbeatAgeSeconds float64 `json:"heartbeatAgeSeconds"`
}

// Election is the leader election as one gateway sees it.
type Election struct {
	Backend  string `json:"backend"`  // "kubernetes" or "etcd"
	Store    string `json:"store"`    // where the route record is: the Lease or the etcd key
	Identity string `json:"identity"` // this gateway's candidate identity
	// Leader is the holder as last observed ("" when none is known); it
	// may name a crashed leader until its lease expires.
	Leader   string `json:"leader"`
	IsLeader bool   `json:"isLeader"` // this gateway leads now
}

// Discovery is where the Memgraph instances are listed from, and the list.
type Discovery struct {
	Source string `json:"source"` // "kubernetes" or "static"
	// Synced is false until the first complete list is in; Instances is
	// empty until then.
	Synced    bool       `json:"synced"`
	Instances []Instance `json:"instances"`
}

// Instance is a Memgraph instance as discovery lists it.
type Instance struct {
	Name            string `json:"name"`
	BoltAddr        string `json:"boltAddr"`        // where the gateway proxies and probes; empty while a pod has no IP
	ReplicationAddr string `json:"replicationAddr"` // what REGISTER REPLICA is given
	Ready           bool   `json:"ready"`           // Kubernetes readiness (always true for a static instance)
	Terminating     bool   `json:"terminating,omitempty"`
}

// Route is the route a gateway serves.
type Route struct {
	Epoch    uint64    `json:"epoch"`
	Phase    string    `json:"phase"`          // "serving" or "failover"
	Main     *Backend  `json:"main,omitempty"` // nil during failover
	Replicas []Replica `json:"replicas"`
}

// Backend is a Memgraph instance's Bolt endpoint.
type Backend struct {
	Name     string `json:"name"`
	BoltAddr string `json:"boltAddr"`
}

// Replica is a replica as the read-only listener sees it.
type Replica struct {
	Backend
	Ready bool  `json:"ready"`
	Lag   int64 `json:"lag"` // Memgraph's "behind": 0 caught up, negative when lagging
}

// Listener is one Bolt listener.
type Listener struct {
	Role    string `json:"role"` // "read-write" or "read-only"
	Address string `json:"address"`
	Serving bool   `json:"serving"`
}

// Connections are the proxy's connection counts.
type Connections struct {
	Active   int            `json:"active"`   // open client connections, in any stage
	Held     int            `json:"held"`     // of Active: waiting for a serving route
	Relayed  int            `json:"relayed"`  // of Active: connected to Memgraph
	Total    uint64         `json:"total"`    // accepted since start, rejected ones included
	Rejected map[string]int `json:"rejected"` // since start, by reason
	Cut      uint64         `json:"cut"`      // relayed connections cut by a route change or shutdown
	LastCut  *Cut           `json:"lastCut,omitempty"`
}

// Cut is the latest cut that touched a connection: how many, when it began
// (the new route was installed), how long after that they were all fenced
// (no byte to the old MAIN after that) and every client was told (reset),
// and when it was recorded.
type Cut struct {
	Connections int       `json:"connections"`
	FenceMs     float64   `json:"fenceMs"`
	NotifyMs    float64   `json:"notifyMs"`
	Began       time.Time `json:"began"`
	At          time.Time `json:"at"`
}
