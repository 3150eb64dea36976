// Package deploy_test checks deploy/azure.sh, the script behind make deploy
// and make delete, in dry-run mode (no Azure account or az CLI needed).
package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// script runs azure.sh with env and a PATH without az.
func script(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed: %v", err)
	}
	// A PATH with the basic tools the script uses, but no az.
	bin := t.TempDir()
	for _, tool := range []string{"sed", "printf"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cmd := exec.Command(bash, append([]string{"azure.sh"}, args...)...)
	cmd.Env = append([]string{"PATH=" + bin, "HOME=" + t.TempDir()}, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	return stdout.String(), stderr.String(), err
}

// TestDryRun: in dry-run mode the script prints the az commands it would
// run, with the defaults or the settings of its environment, and runs none.
func TestDryRun(t *testing.T) {
	tests := []struct {
		name   string
		env    []string
		action string
		want   []string // lines or parts of lines printed
		absent []string // what must not be printed
		exact  string   // when set, the whole output (trimmed)
	}{
		{
			name: "deploy with defaults", env: []string{"DRY_RUN=1"}, action: "deploy",
			want: []string{
				"az group create --name snp-vtpm-rg --location westeurope",
				"az vm create ",
				"--security-type ConfidentialVM",
				"--os-disk-security-encryption-type VMGuestStateOnly",
				"--enable-secure-boot true",
				"--enable-vtpm true",
				"--size Standard_DC2as_v5",
				"--image Canonical:0001-com-ubuntu-confidential-vm-jammy:22_04-lts-cvm:latest",
				"--admin-username azureuser",
				"--public-ip-address ''",
				"--query privateIps",
			},
		},
		{
			name: "deploy with settings", action: "deploy",
			env: []string{
				"DRY_RUN=1", "PUBLIC_IP=1", "RESOURCE_GROUP=rg1", "VM_NAME=vm1", "LOCATION=northeurope",
				"VM_SIZE=Standard_DC4as_v6", "ADMIN_USER=alice", "SSH_KEY=/k.pub",
				"IMAGE_ID=/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/x/images/y/versions/1.0.0",
			},
			want: []string{
				"--name rg1 --location northeurope",
				"--resource-group rg1 --name vm1",
				"--size Standard_DC4as_v6",
				"--image /subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/x/images/y/versions/1.0.0",
				"--admin-username alice --ssh-key-values /k.pub",
				"--nsg-rule SSH",
				"--query publicIps",
			},
			absent: []string{"--public-ip-address ''"}, // PUBLIC_IP=1 keeps the public IP
		},
		{
			name: "delete", env: []string{"DRY_RUN=1", "RESOURCE_GROUP=rg2"}, action: "delete",
			exact: "az group delete --name rg2 --yes --no-wait",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := script(t, tc.env, tc.action)
			if err != nil {
				t.Fatalf("dry run without az: %v\n%s", err, errOut)
			}
			if tc.exact != "" && strings.TrimSpace(out) != tc.exact {
				t.Errorf("output %q, want %q", out, tc.exact)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("dry run lacks %q:\n%s", want, out)
				}
			}
			for _, bad := range tc.absent {
				if strings.Contains(out, bad) {
					t.Errorf("dry run has %q:\n%s", bad, out)
				}
			}
		})
	}
}

func TestWithoutAz(t *testing.T) {
	for _, action := range []string{"deploy", "delete"} {
		_, errOut, err := script(t, nil, action)
		if err == nil || !strings.Contains(errOut, "Azure CLI (az) is not installed") {
			t.Fatalf("%s without az: err %v, stderr %q", action, err, errOut)
		}
	}
	if _, _, err := script(t, nil, "bogus"); err == nil {
		t.Fatal("unknown action accepted")
	}
}
