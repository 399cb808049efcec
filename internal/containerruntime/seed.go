package containerruntime

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/openstrap/openstrap/provider/openstacktest"
)

// serverDir holds a server's files: the seed and console bookkeeping.
func (r *Runtime) serverDir(serverID string) string {
	return filepath.Join(r.opts.Dir, "servers", serverID)
}

// writeSeed writes the server's NoCloud seed and returns its directory:
// user-data as given, meta-data as OpenStack's metadata service gives
// cloud-init the same facts (instance-id, local-hostname, public-keys).
// It holds secrets: the directory is 0700, the files 0600.
func (r *Runtime) writeSeed(ev openstacktest.BootEvent) (string, error) {
	dir := filepath.Join(r.serverDir(ev.ServerID), "nocloud")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("seed of server %s: %w", ev.ServerID, err)
	}
	md := map[string]any{"instance-id": ev.ServerID, "local-hostname": ev.Hostname}
	if ev.PublicKey != "" {
		md["public-keys"] = map[string]string{ev.KeyName: ev.PublicKey}
	}
	meta, err := yaml.Marshal(md)
	if err != nil {
		return "", err
	}
	for name, data := range map[string][]byte{"user-data": ev.UserData, "meta-data": meta} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", fmt.Errorf("seed of server %s: %w", ev.ServerID, err)
		}
	}
	return dir, nil
}
