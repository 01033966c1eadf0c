package kube

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuMeter measures the CPU time this process and its kube-apiserver and etcd children
// use, to tell apart a client-bound and a server-bound benchmark on a machine whose 2
// cores run all three.
type cpuMeter struct {
	self, server, etcd time.Duration
}

func readCPU() cpuMeter {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var server, etcd time.Duration
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	ppid := strconv.Itoa(os.Getpid())
	tick := time.Second / 100 // USER_HZ
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		var into *time.Duration
		switch {
		case strings.Contains(s[:i], "(kube-apiserver"):
			into = &server
		case strings.Contains(s[:i], "(etcd"):
			into = &etcd
		default:
			continue
		}
		f := strings.Fields(s[i+2:])
		if len(f) < 13 || f[1] != ppid {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		*into += time.Duration(ut+st) * tick
	}
	return cpuMeter{self: self, server: server, etcd: etcd}
}

// report adds the CPU used since m, per op, to b's metrics.
func (m cpuMeter) report(b *testing.B) {
	now := readCPU()
	n := float64(b.N)
	b.ReportMetric((now.self-m.self).Seconds()/n, "client-cpu-s/op")
	b.ReportMetric((now.server-m.server).Seconds()/n, "apiserver-cpu-s/op")
	b.ReportMetric((now.etcd-m.etcd).Seconds()/n, "etcd-cpu-s/op")
}
