// Package testnet holds network helpers shared by the test harnesses
// (embedded etcd, the kube-apiserver harness). It is for tests only.
package testnet

import "net"

// FreePorts returns n distinct loopback TCP ports that were free when
// returned (all n are held open together while picking, so they differ).
// Another process may take one before the caller binds it: callers that
// start servers retry on "address already in use".
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
