#!/usr/bin/env bash
# Create or delete an Azure Confidential VM (AMD SEV-SNP) for snp-vtpm.
#
#   deploy/azure.sh deploy    resource group + CVM, then print its address
#   deploy/azure.sh delete    delete the resource group (and everything in it)
#
# Settings (environment variables, all optional):
#   RESOURCE_GROUP  resource group               (default snp-vtpm-rg)
#   VM_NAME         VM name                      (default snp-vtpm-cvm)
#   LOCATION        Azure region with DCasv5     (default westeurope)
#   VM_SIZE         VM size                      (default Standard_DC2as_v5: Milan;
#                                                 Standard_DC2as_v6: Genoa)
#   IMAGE_ID        image (URN or gallery image resource id)
#                   (default Canonical:0001-com-ubuntu-confidential-vm-jammy:22_04-lts-cvm:latest)
#   ADMIN_USER      admin user name              (default azureuser)
#   SSH_KEY         public key file              (default ~/.ssh/id_rsa.pub if it
#                                                 exists, else az generates a key)
#   PUBLIC_IP       1: give the VM a public IP and allow SSH from anywhere;
#                   otherwise (default) private address only
#   DRY_RUN         1: print the az commands instead of running them
#                   (works without az installed)
set -euo pipefail

RESOURCE_GROUP=${RESOURCE_GROUP:-snp-vtpm-rg}
VM_NAME=${VM_NAME:-snp-vtpm-cvm}
LOCATION=${LOCATION:-westeurope}
VM_SIZE=${VM_SIZE:-Standard_DC2as_v5}
IMAGE_ID=${IMAGE_ID:-Canonical:0001-com-ubuntu-confidential-vm-jammy:22_04-lts-cvm:latest}
ADMIN_USER=${ADMIN_USER:-azureuser}
SSH_KEY=${SSH_KEY:-}
PUBLIC_IP=${PUBLIC_IP:-0}
DRY_RUN=${DRY_RUN:-0}

dry() { [ "$DRY_RUN" = 1 ]; }

# run prints (dry run) or runs a command.
run() {
	if dry; then
		printf '%q ' "$@" | sed 's/ $//'
		echo
	else
		"$@"
	fi
}

need_az() {
	if ! dry && ! command -v az >/dev/null 2>&1; then
		echo "error: the Azure CLI (az) is not installed; see https://learn.microsoft.com/cli/azure/install-azure-cli (or use DRY_RUN=1)" >&2
		exit 1
	fi
}

deploy() {
	need_az
	local key_args=()
	if [ -n "$SSH_KEY" ]; then
		key_args=(--ssh-key-values "$SSH_KEY")
	elif [ -f "$HOME/.ssh/id_rsa.pub" ]; then
		key_args=(--ssh-key-values "$HOME/.ssh/id_rsa.pub")
	else
		key_args=(--generate-ssh-keys)
	fi
	local ip_args=(--public-ip-address "")
	local query=privateIps
	if [ "$PUBLIC_IP" = 1 ]; then
		ip_args=(--public-ip-sku Standard --nsg-rule SSH)
		query=publicIps
	fi

	run az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --output none
	run az vm create \
		--resource-group "$RESOURCE_GROUP" \
		--name "$VM_NAME" \
		--location "$LOCATION" \
		--size "$VM_SIZE" \
		--image "$IMAGE_ID" \
		--admin-username "$ADMIN_USER" \
		"${key_args[@]}" \
		--security-type ConfidentialVM \
		--os-disk-security-encryption-type VMGuestStateOnly \
		--enable-secure-boot true \
		--enable-vtpm true \
		"${ip_args[@]}" \
		--output none
	if dry; then
		run az vm show --show-details --resource-group "$RESOURCE_GROUP" --name "$VM_NAME" --query "$query" --output tsv
		return
	fi
	local addr
	addr=$(az vm show --show-details --resource-group "$RESOURCE_GROUP" --name "$VM_NAME" --query "$query" --output tsv)
	echo "CVM $VM_NAME is up: $ADMIN_USER@$addr"
	if [ "$PUBLIC_IP" != 1 ]; then
		echo "  (a private address: reach it through a bastion or VPN, or deploy with PUBLIC_IP=1)"
	fi
	echo "  export CONFIDENTIAL_VM=$addr"
	echo "  make build && scp bin/snp-vtpm $ADMIN_USER@\$CONFIDENTIAL_VM: && ssh $ADMIN_USER@\$CONFIDENTIAL_VM sudo ./snp-vtpm -p"
}

delete() {
	need_az
	run az group delete --name "$RESOURCE_GROUP" --yes --no-wait
	if ! dry; then
		echo "deleting resource group $RESOURCE_GROUP (in the background)"
	fi
}

case "${1:-}" in
deploy) deploy ;;
delete) delete ;;
*)
	echo "usage: $0 deploy|delete (settings: see the top of this script)" >&2
	exit 2
	;;
esac
