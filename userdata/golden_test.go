package userdata

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// goldenCases are rendered to testdata/golden/<name>; every role and format.
func goldenCases(t testing.TB) map[string]Spec {
	certKeyCP := cpSpec(t, fixtureVersion, CloudInit)
	certKeyCP.PKI, certKeyCP.CertificateKey = nil, fixtureCertKey
	uploadInit := initSpec(t, fixtureVersion, CloudInit)
	uploadInit.UploadCertificates, uploadInit.CertificateKey = true, fixtureCertKey
	uploadInit.Machine = Machine{}
	named := workerSpec(t, fixtureVersion, CloudInit)
	named.Node.Name = "demo-md-0-abcde"
	return map[string]Spec{
		"init-v1beta4.cloud-init":          initSpec(t, fixtureVersion, CloudInit),
		"init-v1beta4.ign.json":            initSpec(t, fixtureVersion, Ignition),
		"init-v1beta3.cloud-init":          initSpec(t, fixtureOld, CloudInit),
		"init-upload-certs.cloud-init":     uploadInit,
		"control-plane-v1beta4.cloud-init": cpSpec(t, fixtureVersion, CloudInit),
		"control-plane-v1beta4.ign.json":   cpSpec(t, fixtureVersion, Ignition),
		"control-plane-certkey.cloud-init": certKeyCP,
		"control-plane-v1beta3.cloud-init": cpSpec(t, fixtureOld, CloudInit),
		"worker-v1beta4.cloud-init":        workerSpec(t, fixtureVersion, CloudInit),
		"worker-v1beta4.ign.json":          workerSpec(t, fixtureVersion, Ignition),
		"worker-v1beta3.cloud-init":        workerSpec(t, fixtureOld, CloudInit),
		"worker-named.cloud-init":          named,
	}
}

func TestGolden(t *testing.T) {
	for name, spec := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			got, err := Render(spec)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			path := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run go test -update): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s differs from golden (-want +got), rerun with -update if intended:\n%s", name, diff)
			}
			again, err := Render(spec)
			if err != nil || string(again) != string(got) {
				t.Errorf("second Render differs: rendering is not deterministic (err %v)", err)
			}
		})
	}
}
