// Package deploy_test checks deploy/azure.sh, the script behind make deploy,
// make delete and make install-cvm, with a fake az (and curl, scp, ssh) on
// PATH that records its arguments: in dry-run mode (nothing may run) and for
// real against the fake (the exact commands, in order).
package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// fakeTool is the fake az, curl, scp and ssh: it logs its name and arguments
// (separated by 0x1f) to $FAKE_LOG and answers what the script asks of az
// from FAKE_* variables.
const fakeTool = `
{ printf '%s' "${0##*/}"; for a in "$@"; do printf '\037%s' "$a"; done; printf '\n'; } >>"$FAKE_LOG"
case "${0##*/} $*" in
"az account show"*)
	if [ "${FAKE_LOGGED_OUT:-0}" = 1 ]; then echo "Please run 'az login' to setup account." >&2; exit 1; fi
	echo "Test Subscription" ;;
"az vm list-skus"*) printf '%s\n' "${FAKE_SKUS-Standard_DC2as_v5}" ;;
"az group exists"*) echo "${FAKE_GROUP_EXISTS:-false}" ;;
"az group show"*) echo "${FAKE_GROUP_TAG-snp-vtpm}" ;;
"az vm show --show-details"*) echo "${FAKE_ADDR-203.0.113.7}" ;;
"az vm show"*)
	if [ "${FAKE_VM_EXISTS:-0}" = 1 ]; then echo /subscriptions/s/vm; else echo "(ResourceNotFound)" >&2; exit 3; fi ;;
"az resource list"*) printf 'Microsoft.Compute/virtualMachines\tsnp-vtpm-cvm\n' ;;
"curl "*) echo "${FAKE_MY_IP:-198.51.100.4}" ;;
esac
`

// env is a directory of fake tools, its log, and a HOME.
type env struct {
	bin, log, home string
}

// newEnv writes the fake tools, with links to the few real tools the
// script uses (and make, for the make targets), into a new directory.
func newEnv(t *testing.T) env {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed: %v", err)
	}
	e := env{bin: t.TempDir(), home: t.TempDir()}
	e.log = filepath.Join(t.TempDir(), "log")
	for _, tool := range []string{"az", "curl", "scp", "ssh"} {
		if err := os.WriteFile(filepath.Join(e.bin, tool), []byte("#!"+bash+"\n"+fakeTool), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range []string{"bash", "sed", "grep", "make"} {
		if p, err := exec.LookPath(tool); err == nil {
			if err := os.Symlink(p, filepath.Join(e.bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return e
}

// calls returns the logged commands, each as its arguments.
func (e env) calls(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile(e.log)
	if os.IsNotExist(err) {
		return nil
	} else if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for line := range strings.Lines(string(b)) {
		out = append(out, strings.Split(strings.TrimSuffix(line, "\n"), "\x1f"))
	}
	return out
}

// run runs azure.sh (or, with make set, make TARGET in the repository)
// with the fake tools first on PATH.
func (e env) run(t *testing.T, vars []string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	bash := filepath.Join(e.bin, "bash")
	cmd := exec.Command(bash, append([]string{"azure.sh"}, args...)...)
	if args[0] == "make" {
		cmd = exec.Command(filepath.Join(e.bin, "make"), args[1:]...)
		cmd.Dir = ".."
	}
	cmd.Env = append([]string{"PATH=" + e.bin, "HOME=" + e.home, "FAKE_LOG=" + e.log}, vars...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// shellWord quotes an argument as azure.sh's dry run does.
func shellWord(s string) string {
	if regexp.MustCompile(`^[-A-Za-z0-9_@%+=:,./]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dryRunText is the dry run's listing of commands.
func dryRunText(cmds [][]string) string {
	var b strings.Builder
	for _, c := range cmds {
		words := make([]string, len(c))
		for i, w := range c {
			words[i] = shellWord(w)
		}
		b.WriteString(strings.Join(words, " ") + "\n")
	}
	return b.String()
}

// The commands of a deploy, with the defaults unless said otherwise.
var (
	accountShow = []string{"az", "account", "show", "--query", "name", "--output", "tsv"}
	listSKUs    = []string{"az", "vm", "list-skus", "--location", "westeurope", "--size", "Standard_DC2as_v5",
		"--resource-type", "virtualMachines", "--query", "[].name", "--output", "tsv"}
	groupExists = []string{"az", "group", "exists", "--name", "snp-vtpm-rg"}
	groupCreate = []string{"az", "group", "create", "--name", "snp-vtpm-rg", "--location", "westeurope",
		"--tags", "createdBy=snp-vtpm", "--output", "none"}
	vmExists = []string{"az", "vm", "show", "--resource-group", "snp-vtpm-rg", "--name", "snp-vtpm-cvm",
		"--query", "id", "--output", "tsv"}
	curlIP    = []string{"curl", "-fsS", "--max-time", "10", "https://api.ipify.org"}
	groupShow = []string{"az", "group", "show", "--name", "snp-vtpm-rg", "--query", "tags.createdBy", "--output", "tsv"}
	resList   = []string{"az", "resource", "list", "--resource-group", "snp-vtpm-rg", "--query", "[].[type, name]",
		"--output", "tsv"}
	groupDelete = []string{"az", "group", "delete", "--name", "snp-vtpm-rg", "--yes", "--no-wait"}
)

// vmCreate is az vm create with the defaults, the key options and the
// network options given.
func vmCreate(key, network []string) []string {
	c := []string{"az", "vm", "create", "--resource-group", "snp-vtpm-rg", "--name", "snp-vtpm-cvm",
		"--location", "westeurope", "--size", "Standard_DC2as_v5",
		"--image", "Canonical:0001-com-ubuntu-confidential-vm-jammy:22_04-lts-cvm:latest",
		"--security-type", "ConfidentialVM", "--os-disk-security-encryption-type", "VMGuestStateOnly",
		"--enable-secure-boot", "true", "--enable-vtpm", "true",
		"--admin-username", "azureuser", "--authentication-type", "ssh"}
	c = append(c, key...)
	c = append(c, "--nsg", "snp-vtpm-cvm-nsg", "--nsg-rule", "NONE")
	return append(append(c, network...), "--output", "none")
}

// sshRule is the NSG rule that lets source reach port 22.
func sshRule(source string) []string {
	return []string{"az", "network", "nsg", "rule", "create", "--resource-group", "snp-vtpm-rg",
		"--nsg-name", "snp-vtpm-cvm-nsg", "--name", "allow-ssh-from-deployer", "--priority", "1000",
		"--direction", "Inbound", "--access", "Allow", "--protocol", "Tcp",
		"--source-address-prefixes", source, "--destination-port-ranges", "22", "--output", "none"}
}

func vmAddress(query string) []string {
	return []string{"az", "vm", "show", "--show-details", "--resource-group", "snp-vtpm-rg",
		"--name", "snp-vtpm-cvm", "--query", query, "--output", "tsv"}
}

var (
	generateKeys = []string{"--generate-ssh-keys"}
	noPublicIP   = []string{"--public-ip-address", ""}
	publicIP     = []string{"--public-ip-sku", "Standard"}
	// A fresh deploy with the defaults: a private address only.
	freshPrivate = [][]string{accountShow, listSKUs, groupExists, groupCreate, vmExists,
		vmCreate(generateKeys, noPublicIP), vmAddress("privateIps")}
)

// TestDryRun: DRY_RUN=1 prints the exact commands a fresh deploy, a delete
// or an install would run, and runs none of them.
func TestDryRun(t *testing.T) {
	ed25519 := func(e env) {
		if err := os.MkdirAll(filepath.Join(e.home, ".ssh"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.home, ".ssh", "id_ed25519.pub"), []byte("ssh-ed25519 AAAA x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	gallery := "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/x/images/y/versions/1.0.0"
	tests := []struct {
		name  string
		vars  []string
		setup func(env)
		args  []string
		want  [][]string
	}{
		{name: "deploy with defaults", args: []string{"deploy"}, want: freshPrivate},
		{name: "deploy with an ed25519 key", args: []string{"deploy"}, setup: ed25519,
			want: [][]string{accountShow, listSKUs, groupExists, groupCreate, vmExists,
				vmCreate([]string{"--ssh-key-values", "HOME/.ssh/id_ed25519.pub"}, noPublicIP), vmAddress("privateIps")}},
		{name: "deploy with a public IP, SSH from the caller", args: []string{"deploy"}, vars: []string{"PUBLIC_IP=1"},
			want: [][]string{accountShow, curlIP, listSKUs, groupExists, groupCreate, vmExists,
				vmCreate(generateKeys, publicIP), sshRule("<your-public-ip>/32"), vmAddress("publicIps")}},
		{name: "deploy with settings", args: []string{"deploy"},
			vars: []string{"PUBLIC_IP=1", "SSH_SOURCE=192.0.2.0/24", "RESOURCE_GROUP=rg1", "VM_NAME=vm1", "LOCATION=northeurope",
				"VM_SIZE=Standard_DC4as_v6", "ADMIN_USER=alice", "SSH_KEY=/k.pub", "IMAGE_ID=" + gallery},
			want: [][]string{
				accountShow,
				{"az", "vm", "list-skus", "--location", "northeurope", "--size", "Standard_DC4as_v6",
					"--resource-type", "virtualMachines", "--query", "[].name", "--output", "tsv"},
				{"az", "group", "exists", "--name", "rg1"},
				{"az", "group", "create", "--name", "rg1", "--location", "northeurope", "--tags", "createdBy=snp-vtpm", "--output", "none"},
				{"az", "vm", "show", "--resource-group", "rg1", "--name", "vm1", "--query", "id", "--output", "tsv"},
				{"az", "vm", "create", "--resource-group", "rg1", "--name", "vm1", "--location", "northeurope",
					"--size", "Standard_DC4as_v6", "--image", gallery,
					"--security-type", "ConfidentialVM", "--os-disk-security-encryption-type", "VMGuestStateOnly",
					"--enable-secure-boot", "true", "--enable-vtpm", "true", "--admin-username", "alice",
					"--authentication-type", "ssh", "--ssh-key-values", "/k.pub", "--nsg", "vm1-nsg", "--nsg-rule", "NONE",
					"--public-ip-sku", "Standard", "--output", "none"},
				{"az", "network", "nsg", "rule", "create", "--resource-group", "rg1", "--nsg-name", "vm1-nsg",
					"--name", "allow-ssh-from-deployer", "--priority", "1000", "--direction", "Inbound", "--access", "Allow",
					"--protocol", "Tcp", "--source-address-prefixes", "192.0.2.0/24", "--destination-port-ranges", "22", "--output", "none"},
				{"az", "vm", "show", "--show-details", "--resource-group", "rg1", "--name", "vm1", "--query", "publicIps", "--output", "tsv"},
			}},
		{name: "delete", args: []string{"delete"}, want: [][]string{accountShow, groupExists, groupShow, resList, groupDelete}},
		{name: "install", args: []string{"install"}, vars: []string{"CONFIDENTIAL_VM=203.0.113.7"}, want: installCmds("azureuser@203.0.113.7")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			out, errOut, err := e.run(t, append([]string{"DRY_RUN=1"}, tc.vars...), "", tc.args...)
			if err != nil {
				t.Fatalf("dry run: %v\n%s", err, errOut)
			}
			want := strings.ReplaceAll(dryRunText(tc.want), "HOME/", e.home+"/")
			if out != want {
				t.Errorf("dry run printed\n%s\nwant\n%s", out, want)
			}
			if calls := e.calls(t); len(calls) != 0 {
				t.Errorf("dry run ran %q", calls)
			}
		})
	}
}

// installCmds is what install runs for host.
func installCmds(host string) [][]string {
	return [][]string{
		{"scp", "--", "bin/snp-vtpm", host + ":snp-vtpm"},
		{"ssh", "--", host, `sudo install -m 0755 snp-vtpm /usr/local/bin/snp-vtpm && rm -f snp-vtpm && { ls -l /dev/tpmrm0 || echo "no /dev/tpmrm0: this VM has no vTPM"; }`},
	}
}

// TestAgainstFakeAzure runs the script for real against the fake az: the
// exact commands run, in order, and what the user is told.
func TestAgainstFakeAzure(t *testing.T) {
	tests := []struct {
		name    string
		vars    []string
		stdin   string
		action  string
		want    [][]string
		fails   bool
		sayings []string // in stdout, or stderr when it fails
	}{
		{name: "fresh deploy", action: "deploy", want: freshPrivate,
			sayings: []string{"subscription: Test Subscription", "azureuser@203.0.113.7", "bastion or VPN",
				"make install-cvm CONFIDENTIAL_VM=203.0.113.7", "ssh azureuser@203.0.113.7 sudo snp-vtpm -p"}},
		{name: "fresh deploy, public IP", action: "deploy", vars: []string{"PUBLIC_IP=1"},
			want: [][]string{accountShow, curlIP, listSKUs, groupExists, groupCreate, vmExists,
				vmCreate(generateKeys, publicIP), sshRule("198.51.100.4/32"), vmAddress("publicIps")},
			sayings: []string{"SSH is open to 198.51.100.4/32 only", "make install-cvm CONFIDENTIAL_VM=203.0.113.7"}},
		{name: "deploy again", action: "deploy", vars: []string{"FAKE_GROUP_EXISTS=true", "FAKE_VM_EXISTS=1"},
			want:    [][]string{accountShow, listSKUs, groupExists, vmExists, vmAddress("privateIps")},
			sayings: []string{"resource group snp-vtpm-rg exists", "VM snp-vtpm-cvm exists", "azureuser@203.0.113.7"}},
		{name: "deploy again, public IP: the SSH rule follows the caller", action: "deploy",
			vars: []string{"PUBLIC_IP=1", "FAKE_GROUP_EXISTS=true", "FAKE_VM_EXISTS=1", "FAKE_MY_IP=198.51.100.99"},
			want: [][]string{accountShow, curlIP, listSKUs, groupExists, vmExists, sshRule("198.51.100.99/32"), vmAddress("publicIps")}},
		{name: "size not offered here", action: "deploy", vars: []string{"FAKE_SKUS=Standard_DC2ads_v5"}, fails: true,
			want: [][]string{accountShow, listSKUs}, sayings: []string{"Standard_DC2as_v5 is not offered to your subscription in westeurope"}},
		{name: "not logged in", action: "deploy", vars: []string{"FAKE_LOGGED_OUT=1"}, fails: true,
			want: [][]string{accountShow}, sayings: []string{"az is not logged in: run az login"}},
		{name: "no address", action: "deploy", vars: []string{"FAKE_ADDR="}, fails: true,
			want: freshPrivate, sayings: []string{"has no privateIp address"}},
		{name: "delete, YES=1", action: "delete", vars: []string{"FAKE_GROUP_EXISTS=true", "YES=1"},
			want: [][]string{accountShow, groupExists, groupShow, resList, groupDelete}, sayings: []string{"deleting resource group snp-vtpm-rg"}},
		{name: "delete, answered y", action: "delete", vars: []string{"FAKE_GROUP_EXISTS=true"}, stdin: "y\n",
			want:    [][]string{accountShow, groupExists, groupShow, resList, groupDelete},
			sayings: []string{"Microsoft.Compute/virtualMachines", "delete resource group snp-vtpm-rg and everything in it? [y/N]"}},
		{name: "delete, answered n", action: "delete", vars: []string{"FAKE_GROUP_EXISTS=true"}, stdin: "n\n", fails: true,
			want: [][]string{accountShow, groupExists, groupShow, resList}, sayings: []string{"not deleted"}},
		{name: "delete, no answer", action: "delete", vars: []string{"FAKE_GROUP_EXISTS=true"}, fails: true,
			want: [][]string{accountShow, groupExists, groupShow, resList}, sayings: []string{"not deleted"}},
		{name: "delete a group deploy did not create", action: "delete", vars: []string{"FAKE_GROUP_EXISTS=true", "FAKE_GROUP_TAG="},
			stdin: "y\n", fails: true,
			want: [][]string{accountShow, groupExists, groupShow}, sayings: []string{"was not created by make deploy", "YES=1"}},
		{name: "delete a group deploy did not create, YES=1", action: "delete",
			vars: []string{"FAKE_GROUP_EXISTS=true", "FAKE_GROUP_TAG=", "YES=1"},
			want: [][]string{accountShow, groupExists, groupShow, resList, groupDelete}},
		{name: "delete, no such group", action: "delete",
			want: [][]string{accountShow, groupExists}, sayings: []string{"does not exist: nothing to delete"}},
		{name: "delete, not logged in", action: "delete", vars: []string{"FAKE_LOGGED_OUT=1", "YES=1"}, fails: true,
			want: [][]string{accountShow}, sayings: []string{"run az login"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			out, errOut, err := e.run(t, append([]string{"FAKE_GROUP_EXISTS=false"}, tc.vars...), tc.stdin, tc.action)
			if (err != nil) != tc.fails {
				t.Fatalf("err %v, want failure %v\nstdout %s\nstderr %s", err, tc.fails, out, errOut)
			}
			if got := e.calls(t); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("ran\n%s\nwant\n%s", dryRunText(got), dryRunText(tc.want))
			}
			said := out
			if tc.fails {
				said = errOut + out
			}
			for _, s := range tc.sayings {
				if !strings.Contains(said, s) {
					t.Errorf("output lacks %q:\n%s", s, said)
				}
			}
		})
	}
}

// TestInstall: install copies the binary and installs it in /usr/local/bin
// (on sudo's PATH: sudo snp-vtpm -p), and says how to run it.
func TestInstall(t *testing.T) {
	e := newEnv(t)
	if err := os.WriteFile(filepath.Join(e.home, "snp-vtpm"), []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := e.run(t, []string{"CONFIDENTIAL_VM=cvm.example.net", "ADMIN_USER=alice", "BIN=" + e.home}, "", "install")
	if err != nil {
		t.Fatalf("install: %v\n%s", err, errOut)
	}
	want := installCmds("alice@cvm.example.net")
	want[0][2] = filepath.Join(e.home, "snp-vtpm")
	if got := e.calls(t); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("ran %q, want %q", got, want)
	}
	for _, s := range []string{"ssh alice@cvm.example.net sudo snp-vtpm -p", "tss"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if _, errOut, err := e.run(t, []string{"CONFIDENTIAL_VM=cvm", "BIN=" + t.TempDir()}, "", "install"); err == nil ||
		!strings.Contains(errOut, "run make build") {
		t.Errorf("install without a binary: err %v, stderr %q", err, errOut)
	}
}

// TestRefusedSettings: a setting that is no valid name (spaces, shell
// syntax, an option for scp or ssh) is refused before anything runs, with
// a message naming it; in a dry run too.
func TestRefusedSettings(t *testing.T) {
	tests := []struct {
		action, setting string
	}{
		{"deploy", "VM_NAME=a b"},
		{"deploy", "VM_NAME=vm;touch x"},
		{"deploy", "VM_NAME=vm-"},
		{"deploy", "VM_NAME=$(id)"},
		{"deploy", "RESOURCE_GROUP=my group"},
		{"deploy", "RESOURCE_GROUP=rg."},
		{"deploy", "RESOURCE_GROUP=--help"},
		{"deploy", "LOCATION=West Europe"},
		{"deploy", "VM_SIZE=Standard_DC2as_v5 --debug"},
		{"deploy", "ADMIN_USER=-oProxyCommand=x"},
		{"deploy", "PUBLIC_IP=yes"},
		{"deploy", "SSH_SOURCE=1.2.3.4; x"},
		{"deploy", "DRY_RUN=true"},
		{"delete", "RESOURCE_GROUP=a;b"},
		{"delete", "YES=y"},
		{"install", "CONFIDENTIAL_VM=-oProxyCommand=touch x"},
		{"install", "CONFIDENTIAL_VM=host;id"},
		{"install", "CONFIDENTIAL_VM="},
		{"install", "ADMIN_USER=-F/tmp/cfg"},
	}
	for _, tc := range tests {
		for _, dry := range []string{"0", "1"} {
			if tc.setting == "DRY_RUN=true" && dry == "1" {
				continue
			}
			e := newEnv(t)
			name, _, _ := strings.Cut(tc.setting, "=")
			vars := []string{"DRY_RUN=" + dry, "PUBLIC_IP=1", "YES=1", "CONFIDENTIAL_VM=cvm", "BIN=" + e.home, tc.setting}
			out, errOut, err := e.run(t, vars, "", tc.action)
			if err == nil || !strings.Contains(errOut, name) {
				t.Errorf("%s %q (dry run %s): err %v, stderr %q", tc.action, tc.setting, dry, err, errOut)
			}
			if calls := e.calls(t); len(calls) != 0 || out != "" {
				t.Errorf("%s %q (dry run %s) ran %q, printed %q", tc.action, tc.setting, dry, calls, out)
			}
		}
	}
}

// TestWithoutAz: without az, deploy and delete say how to get it.
func TestWithoutAz(t *testing.T) {
	e := newEnv(t)
	if err := os.Remove(filepath.Join(e.bin, "az")); err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"deploy", "delete"} {
		_, errOut, err := e.run(t, nil, "", action)
		if err == nil || !strings.Contains(errOut, "Azure CLI (az) is not installed") {
			t.Fatalf("%s without az: err %v, stderr %q", action, err, errOut)
		}
	}
	if _, _, err := e.run(t, nil, "", "bogus"); err == nil {
		t.Fatal("unknown action accepted")
	}
}

// TestMakeTargets: make deploy, delete and install-cvm pass their settings
// to the script through the environment, so a value is never shell syntax
// (CONFIDENTIAL_VM was pasted into install-cvm's recipe).
func TestMakeTargets(t *testing.T) {
	e := newEnv(t)
	if _, err := os.Stat(filepath.Join(e.bin, "make")); err != nil {
		t.Skip("make is needed")
	}
	out, errOut, err := e.run(t, []string{"DRY_RUN=1"}, "", "make", "--no-print-directory", "deploy")
	if err != nil || out != dryRunText(freshPrivate) {
		t.Errorf("DRY_RUN=1 make deploy: %v %s\nprinted\n%s\nwant\n%s", err, errOut, out, dryRunText(freshPrivate))
	}
	want := dryRunText([][]string{accountShow, groupExists, groupShow, resList, groupDelete})
	out, errOut, err = e.run(t, []string{"DRY_RUN=1"}, "", "make", "--no-print-directory", "delete")
	if err != nil || out != want {
		t.Errorf("DRY_RUN=1 make delete: %v %s\nprinted\n%s\nwant\n%s", err, errOut, out, want)
	}
	marker := filepath.Join(t.TempDir(), "injected")
	for _, tc := range []struct{ target, setting string }{
		{"install-cvm", "CONFIDENTIAL_VM"},
		{"install-cvm", "ADMIN_USER"},
		{"deploy", "VM_NAME"},
		{"deploy", "ADMIN_USER"},
		{"delete", "RESOURCE_GROUP"},
	} {
		// -o build: install-cvm without building the binary first.
		_, errOut, err := e.run(t, []string{"CONFIDENTIAL_VM=cvm"}, "", "make", "-o", "build", "DRY_RUN=1",
			tc.setting+"=x;echo injected >"+marker+";", tc.target) // echo: a builtin of any shell
		if _, serr := os.Stat(marker); serr == nil {
			t.Fatalf("make %s %s=x;echo ... >file: the value ran as a command", tc.target, tc.setting)
		}
		if err == nil || !strings.Contains(errOut, tc.setting+"=") {
			t.Errorf("make %s %s=x;echo ... >file: err %v, stderr %q", tc.target, tc.setting, err, errOut)
		}
	}
	if calls := e.calls(t); len(calls) != 0 {
		t.Errorf("dry runs ran %q", calls)
	}
}
