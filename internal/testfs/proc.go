package testfs

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Children lists the processes whose parent is ppid, from /proc.
func Children(ppid int) []int {
	var pids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := strconv.Itoa(ppid)
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 2 || fields[1] != parent {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
