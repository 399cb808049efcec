package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openstrap/openstrap/userdata"
)

// loadSecrets makes the PKI and token once, reads the same ones back, and
// refuses a damaged PKI instead of making a new CA.
func TestLoadSecrets(t *testing.T) {
	dir := t.TempDir()
	f := &flow{cfg: &config{Dir: dir}}
	if err := f.loadSecrets(); err != nil {
		t.Fatal(err)
	}
	pkiDir := filepath.Join(dir, "pki")
	tokenFile := filepath.Join(pkiDir, "bootstrap-token")
	st, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %o, want 600", st.Mode().Perm())
	}
	caCert, err := os.ReadFile(filepath.Join(pkiDir, userdata.FileCACert))
	if err != nil {
		t.Fatal(err)
	}

	again := &flow{cfg: &config{Dir: dir}}
	if err := again.loadSecrets(); err != nil {
		t.Fatal(err)
	}
	if again.pki.CACertHash() != f.pki.CACertHash() || again.token.Value() != f.token.Value() {
		t.Error("a second load made new secrets instead of reading the saved ones")
	}

	if err := os.WriteFile(filepath.Join(pkiDir, userdata.FileCAKey), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = (&flow{cfg: &config{Dir: dir}}).loadSecrets()
	if err == nil {
		t.Fatal("a corrupt ca.key was accepted")
	}
	t.Logf("corrupt ca.key: %v", err)
	for _, want := range []string{userdata.FileCAKey, "no new CA", "restore"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if now, _ := os.ReadFile(filepath.Join(pkiDir, userdata.FileCACert)); !bytes.Equal(now, caCert) {
		t.Error("ca.crt was replaced after a load error")
	}
	if b, _ := os.ReadFile(filepath.Join(pkiDir, userdata.FileCAKey)); string(b) != "not a key\n" {
		t.Error("the corrupt ca.key was overwritten")
	}

	// A missing file of the set is an error too, naming it.
	if err := os.Remove(filepath.Join(pkiDir, userdata.FileEtcdCAKey)); err != nil {
		t.Fatal(err)
	}
	if err := (&flow{cfg: &config{Dir: dir}}).loadSecrets(); err == nil || !strings.Contains(err.Error(), userdata.FileEtcdCAKey) {
		t.Errorf("partial PKI: err %v, want an error naming the missing file", err)
	}
}
