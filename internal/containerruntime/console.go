package containerruntime

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
)

// consoleCountFile records how many console lines of a container were
// forwarded, so that a follower started later (after a stop, or by Resume
// in a new process) does not repeat them: podman logs prints every run of
// the container from the first.
const consoleCountFile = "console-lines"

func (r *Runtime) consoleCount(serverID string) int {
	b, err := os.ReadFile(filepath.Join(r.serverDir(serverID), consoleCountFile))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func (r *Runtime) saveConsoleCount(serverID string, n int) {
	p := filepath.Join(r.serverDir(serverID), consoleCountFile)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(n)), 0o600); err == nil {
		_ = os.Rename(tmp, p)
	}
}

// followConsole appends the container's output to the server's console
// until the container stops (podman logs -f ends). A follower of an earlier
// run is waited for first, then lines it forwarded are skipped. Callers
// hold m.mu.
func (r *Runtime) followConsole(m *machine, log logr.Logger) {
	prev := m.followDone
	done := make(chan struct{})
	m.followDone = done
	id, serverID := m.containerID, m.serverID
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(done)
		if prev != nil {
			select {
			case <-prev:
			case <-r.ctx.Done():
				return
			}
		}
		r.follow(id, serverID, log)
	}()
}

func (r *Runtime) follow(containerID, serverID string, log logr.Logger) {
	cmd := r.opts.Engine.Logs(r.ctx, containerID, true)
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Error(err, "following the console")
		return
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		log.Error(err, "following the console")
		return
	}
	skip := r.consoleCount(serverID)
	seen := 0
	var mu sync.Mutex
	var batch []string
	flush := func() {
		mu.Lock()
		lines := batch
		batch = nil
		n := seen
		mu.Unlock()
		if len(lines) == 0 {
			return
		}
		r.mu.Lock()
		sim := r.sim
		r.mu.Unlock()
		if sim != nil {
			sim.AppendConsole(serverID, lines...)
		}
		r.saveConsoleCount(serverID, n)
	}
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				flush()
			case <-stop:
				flush()
				return
			}
		}
	}()
	rd := bufio.NewReaderSize(out, 64<<10)
	for {
		line, err := rd.ReadString('\n')
		if line != "" && (err == nil || strings.HasSuffix(line, "\n") || len(line) > 0) {
			mu.Lock()
			seen++
			if seen > skip {
				batch = append(batch, strings.TrimRight(line, "\r\n"))
			}
			mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	close(stop)
	<-flushed
	_ = cmd.Wait()
}
