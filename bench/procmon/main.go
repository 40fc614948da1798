// Command procmon runs a command and watches its whole process tree: wall time from exec to
// exit, and the peak over time of the summed resident set size (RSS) and proportional set
// size (PSS) of the process and all its descendants: RSS from /proc/pid/statm every --interval,
// PSS from /proc/pid/smaps_rollup every --pss_interval. smaps_rollup walks the page tables of
// the whole process under its memory-map lock, which stalls the process's own page faults:
// read every 50 ms it made both drgrade's and PyTorch's epochs 1.7-2.2x slower, so it is read
// rarely; statm reads counters and costs nothing measurable.
// PyTorch's DataLoader forks worker processes; drgrade's workers are goroutines. Summed RSS
// counts pages that forked processes share (the torch libraries, copy-on-write heap) once
// per process, as `ps` does; PSS splits each shared page between its sharers, so its sum is
// the memory the tree really holds.
//
//	procmon [--interval 50ms] [--pss_interval 1s] -- command args...
//
// The command's stdout is passed through; procmon then prints one JSON line: the wall time,
// the exec time (Unix seconds, to compare with timestamps the command prints), the peaks, the
// process counts, and "child": the last line of the command's stdout that parses as a JSON
// object. Pure Go, Linux only.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// report is the JSON line procmon prints.
type report struct {
	Cmd        []string        `json:"cmd"`
	ExecUnix   float64         `json:"exec_unix"`
	WallS      float64         `json:"wall_s"`
	ExitCode   int             `json:"exit_code"`
	PeakRSSMB  float64         `json:"peak_rss_mb"`
	PeakPSSMB  float64         `json:"peak_pss_mb"`
	PeakProcs  int             `json:"peak_procs"` // most processes alive in one sample
	ProcsSeen  int             `json:"procs_seen"` // distinct pids seen over the run
	Samples    int             `json:"samples"`
	IntervalMS float64         `json:"interval_ms"`
	PSSEveryMS float64         `json:"pss_interval_ms"`
	Child      json.RawMessage `json:"child"`
}

func main() {
	code, err := run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "procmon:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

func run() (int, error) {
	interval := flag.Duration("interval", 50*time.Millisecond, "RSS sampling period")
	pssInterval := flag.Duration("pss_interval", time.Second, "PSS sampling period (0: never)")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		return 2, errors.New("usage: procmon [--interval 50ms] -- command args...")
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	var out bytes.Buffer
	cmd.Stdout = io.MultiWriter(os.Stdout, &out)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 2, err
	}
	root := cmd.Process.Pid
	var mu sync.Mutex
	rep := report{Cmd: args, ExecUnix: float64(start.UnixNano()) / 1e9,
		IntervalMS: float64(*interval) / float64(time.Millisecond), PSSEveryMS: float64(*pssInterval) / float64(time.Millisecond)}
	seen := map[int]bool{}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(*interval)
		defer t.Stop()
		var lastPSS time.Time
		for {
			pids := tree(root)
			withPSS := *pssInterval > 0 && time.Since(lastPSS) >= *pssInterval
			if withPSS {
				lastPSS = time.Now()
			}
			var rss, pss float64
			alive := 0
			for _, p := range pids {
				r, ok := residentMB(p)
				if !ok {
					continue
				}
				alive++
				rss += r
				if withPSS {
					pss += pssMB(p)
				}
			}
			mu.Lock()
			for _, p := range pids {
				seen[p] = true
			}
			rep.Samples++
			rep.PeakRSSMB = max(rep.PeakRSSMB, rss)
			rep.PeakPSSMB = max(rep.PeakPSSMB, pss)
			rep.PeakProcs = max(rep.PeakProcs, alive)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	rep.WallS = time.Since(start).Seconds()
	close(done)
	<-stopped
	rep.ProcsSeen = len(seen)
	rep.ExitCode = cmd.ProcessState.ExitCode()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 2, err
	}
	rep.Child = lastJSON(out.Bytes())
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 2, err
	}
	return rep.ExitCode, nil
}

// lastJSON is the last line of b (after its last carriage return, so progress bars redrawn
// in place do not hide it) that is a JSON object, or null.
func lastJSON(b []byte) json.RawMessage {
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if j := strings.LastIndexByte(l, '\r'); j >= 0 {
			l = l[j+1:]
		}
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "{") && json.Valid([]byte(l)) {
			return json.RawMessage(l)
		}
	}
	return json.RawMessage("null")
}

// tree returns root and every live descendant of it, from the parent pids in /proc/*/stat.
func tree(root int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []int{root}
	}
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := ppid(pid); ok {
			children[pp] = append(children[pp], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// ppid reads the parent pid from /proc/pid/stat (the field after the parenthesised command
// name, which may itself contain spaces and parentheses).
func ppid(pid int) (int, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// residentMB is the RSS of pid in MiB from /proc/pid/statm (resident pages, the second field).
func residentMB(pid int) (float64, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "statm"))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseFloat(f[1], 64)
	if err != nil {
		return 0, false
	}
	return pages * float64(os.Getpagesize()) / (1 << 20), true
}

// pssMB is the PSS of pid in MiB from /proc/pid/smaps_rollup (0 if unreadable).
func pssMB(pid int) float64 {
	_, pss, _ := memory(pid)
	return pss
}

// memory returns the RSS and PSS of pid in MiB from /proc/pid/smaps_rollup.
func memory(pid int) (rss, pss float64, ok bool) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		kb, err := strconv.ParseFloat(fs[1], 64)
		if err != nil {
			continue
		}
		switch fs[0] {
		case "Rss:":
			rss, ok = kb/1024, true
		case "Pss:":
			pss = kb / 1024
		}
	}
	return rss, pss, ok
}
