package proto

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
)

// Loopback ports handed to child processes come from below the usual
// ephemeral ranges (Linux 32768-60999, BSD and macOS from 49152). A port
// that the system picks for port 0 lies in that range, where any outgoing
// connection on the machine may take it between the check and the child's
// bind.
const (
	portsFrom = 20000
	portsTo   = 32000
)

// FreePorts returns n distinct loopback TCP ports that were free a moment
// ago, for child processes to bind.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	seen := make(map[int]bool, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries >= 100*n {
			return nil, errors.New("proto: no free loopback port found between " + strconv.Itoa(portsFrom) + " and " + strconv.Itoa(portsTo))
		}
		port := portsFrom + rand.IntN(portsTo-portsFrom)
		if seen[port] {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		seen[port] = true
		ports = append(ports, port)
	}
	return ports, nil
}
