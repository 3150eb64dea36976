package verify_test

import (
	"testing"

	"github.com/snp-vtpm/snp-vtpm/verify"
)

func TestZZProbePolicyEmpty(t *testing.T) {
	for _, s := range []string{
		`{"measurements":[]}`, `{"pcrs":{}}`, `{"products":[]}`, `{"id_key_digests":[]}`, `{"author_key_digests":[]}`,
		`{"tdx_mr_tds":[]}`, `{"tdx_tcb_statuses":[]}`, `{"event_log_pcrs":[]}`, `{"secure_boot_db_certs":[]}`, `{"platforms":[]}`,
		`{"measurements":null}`, `{"min_tcb":{}}`, `{"min_tcb":null}`, `{"kernel_cmdline":""}`, `{"init_data_digest":""}`, `{"maa_paravisor_instance":""}`,
		`{"vmpl":0}`, `{"allow_debug":false}`, `{"init_data_digest":null}`, `{"min_launch_tcb":{}}`,
	} {
		p, err := verify.ParsePolicy([]byte(s))
		t.Logf("%s: err=%v p=%+v", s, err, p)
	}
}
