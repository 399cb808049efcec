// Package bgproc starts and stops the background processes whose state lives
// in a directory (internal/simhost's simulator, internal/managerhost's
// controllers): a process in its own session, so that it outlives the
// command that started it and a Ctrl-C in that command's terminal, with its
// output appended to a log file and its pid in a pid file.
//
// What "ready" means is the caller's: Spawn starts, Process.Wait polls the
// caller's check until it holds or the process exits. Stop signals the pid of
// a pid file and waits until the process has gone, killing it after a grace
// period. The functions are safe for concurrent use on different files; two
// callers starting the same directory's process must serialise themselves.
package bgproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openstrap/openstrap/internal/retry"
)

// Process is a background process started by Spawn.
type Process struct {
	// Pid is the process's id.
	Pid    int
	exited chan struct{}
	err    error
}

// Spawn starts exe args in its own session with its output appended to
// logPath, and writes its pid to pidPath. A goroutine waits for it, so that
// it leaves no zombie when it exits while the caller runs.
func Spawn(exe string, args []string, logPath, pidPath string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(p.Pid)), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	return p, nil
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ErrExited is returned (wrapped) by Wait when the process exited before it
// was ready.
var ErrExited = errors.New("background process exited")

// Wait polls ready until it reports true, the process exits (an error
// wrapping ErrExited with its exit status), or ctx ends.
func (p *Process) Wait(ctx context.Context, ready func(context.Context) bool) error {
	return retry.Until(ctx, retry.Policy{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond},
		func(ctx context.Context) (bool, error) {
			select {
			case <-p.exited:
				return false, retry.Permanent(fmt.Errorf("%w (%v)", ErrExited, p.err))
			default:
			}
			return ready(ctx), nil
		})
}

// ReadPID reads a pid file.
func ReadPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("pid file %s: %w", path, err)
	}
	return pid, nil
}

// Alive reports whether a process with id pid exists (a zombie counts).
func Alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

// Stop sends SIGTERM to the process of pidPath and waits until it has gone;
// after grace it sends SIGKILL and returns an error saying so. The pid file
// is removed. No pid file, or no such process, is not an error.
func Stop(ctx context.Context, pidPath string, grace time.Duration) error {
	pid, err := ReadPID(pidPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		_ = os.Remove(pidPath)
		return nil
	}
	err = retry.Until(ctx, retry.Policy{Initial: 50 * time.Millisecond, Max: 500 * time.Millisecond, MaxElapsed: grace},
		func(context.Context) (bool, error) { return !Alive(pid), nil })
	if err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = os.Remove(pidPath)
	if err != nil {
		return fmt.Errorf("pid %d did not exit within %v and was killed", pid, grace)
	}
	return nil
}

// LogTail returns the last n lines of the log at path ("" when unreadable),
// for an error that says why a background process failed.
func LogTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
