//go:build !linux

package fault

import (
	"errors"
	"os"
)

// OpenBridge opens the two AF_PACKET sockets a Node forwards between. The
// lab and its fault node need Linux network namespaces and AF_PACKET; on
// other systems OpenBridge returns an error.
func OpenBridge(clientIf, serverIf string) (Config, error) {
	return Config{}, errors.New("fault: the lab's fault node needs Linux (AF_PACKET sockets in network namespaces)")
}

func socketDrops(*os.File) (uint64, bool) { return 0, false }
