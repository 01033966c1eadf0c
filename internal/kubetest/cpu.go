package kubetest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CPU is a reading of the CPU time used by this process and by its children that
// benchmarks care about (kube-apiserver, etcd, a gitopsd daemon). On a machine whose two
// cores run all of them, it tells a client-bound benchmark from a server-bound one, and
// shows the floor the server's own work puts under a benchmark's time.
type CPU struct {
	Self     time.Duration
	Children map[string]time.Duration // by command name
}

// meteredChildren are the child processes ReadCPU reports.
var meteredChildren = []string{"kube-apiserver", "etcd", "gitopsd"}

// ReadCPU reads the CPU time used so far.
func ReadCPU() CPU {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	c := CPU{Self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), Children: map[string]time.Duration{}}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	ppid := strconv.Itoa(os.Getpid())
	tick := time.Second / 100 // USER_HZ
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		name := s[open+1 : end]
		f := strings.Fields(s[end+2:])
		if len(f) < 13 || f[1] != ppid {
			continue
		}
		for _, want := range meteredChildren {
			if name == want {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				c.Children[name] += time.Duration(ut+st) * tick
			}
		}
	}
	return c
}

// Report adds to b's metrics the CPU seconds per op used since c: "client-cpu-s/op" for
// this process and "<name>-cpu-s/op" for each child that used any.
func (c CPU) Report(b *testing.B) {
	now := ReadCPU()
	n := float64(b.N)
	b.ReportMetric((now.Self-c.Self).Seconds()/n, "client-cpu-s/op")
	for _, name := range meteredChildren {
		if d := now.Children[name] - c.Children[name]; d > 0 {
			b.ReportMetric(d.Seconds()/n, name+"-cpu-s/op")
		}
	}
}
