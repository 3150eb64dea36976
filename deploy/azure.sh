#!/usr/bin/env bash
# Create, delete or provision an Azure Confidential VM (AMD SEV-SNP) for snp-vtpm.
#
#   deploy/azure.sh deploy    resource group + CVM, then print its address (make deploy)
#   deploy/azure.sh delete    delete the resource group, after asking   (make delete)
#   deploy/azure.sh install   copy bin/snp-vtpm to /usr/local/bin on the CVM (make install-cvm)
#
# Settings (environment variables, all optional but CONFIDENTIAL_VM for install):
#   RESOURCE_GROUP  resource group (default snp-vtpm-rg); deploy creates it with the
#                   tag createdBy=snp-vtpm, delete refuses a group without it unless YES=1
#   VM_NAME         VM name (default snp-vtpm-cvm): letters, digits and hyphens
#   LOCATION        Azure region (default westeurope); deploy checks that it offers
#                   VM_SIZE to your subscription (az vm list-skus)
#   VM_SIZE         VM size (default Standard_DC2as_v5). AMD SEV-SNP: DCasv5/DCadsv5/
#                   ECasv5/ECadsv5 (Milan), DCasv6/ECasv6 (Genoa); Intel TDX: DCesv5/
#                   DCedsv5/ECesv5/ECedsv5
#   IMAGE_ID        image URN or gallery image id (default
#                   Canonical:0001-com-ubuntu-confidential-vm-jammy:22_04-lts-cvm:latest;
#                   Ubuntu 24.04: Canonical:ubuntu-24_04-lts:cvm:latest)
#   ADMIN_USER      admin user name (default azureuser); SSH keys only, no password
#   SSH_KEY         public key file (default ~/.ssh/id_ed25519.pub, else ~/.ssh/id_rsa.pub,
#                   else az generates ~/.ssh/id_rsa)
#   PUBLIC_IP       1: a public IP, SSH open to SSH_SOURCE only; otherwise (default) a
#                   private address only (reach it through a bastion or VPN)
#   SSH_SOURCE      address or CIDR that may SSH in with PUBLIC_IP=1 (default: your
#                   public IPv4 address, asked of https://api.ipify.org; '*' = anyone)
#   YES             1: delete without asking
#   CONFIDENTIAL_VM the CVM's address, for install (printed by deploy)
#   BIN             directory of the snp-vtpm binary, for install (default bin)
#   DRY_RUN         1: print the commands instead of running them (works without az,
#                   runs nothing, asks nothing)
set -euo pipefail

RESOURCE_GROUP=${RESOURCE_GROUP:-snp-vtpm-rg}
VM_NAME=${VM_NAME:-snp-vtpm-cvm}
LOCATION=${LOCATION:-westeurope}
VM_SIZE=${VM_SIZE:-Standard_DC2as_v5}
IMAGE_ID=${IMAGE_ID:-Canonical:0001-com-ubuntu-confidential-vm-jammy:22_04-lts-cvm:latest}
ADMIN_USER=${ADMIN_USER:-azureuser}
SSH_KEY=${SSH_KEY:-}
PUBLIC_IP=${PUBLIC_IP:-0}
SSH_SOURCE=${SSH_SOURCE:-}
YES=${YES:-0}
CONFIDENTIAL_VM=${CONFIDENTIAL_VM:-}
BIN=${BIN:-bin}
DRY_RUN=${DRY_RUN:-0}

# The tag that marks a resource group as made by this script.
TAG_KEY=createdBy
TAG_VALUE=snp-vtpm
# Where api.ipify.org's answer goes in a dry run.
MY_IP_PLACEHOLDER='<your-public-ip>'

exec 3>&1 # the dry run's listing, also from inside $(...)

dry() { [ "$DRY_RUN" = 1 ]; }
die() {
	echo "error: $*" >&2
	exit 1
}

# show prints a command as a shell would read it back (single quotes
# around an argument that needs quoting).
show() {
	local arg line=""
	for arg in "$@"; do
		if ! [[ $arg =~ ^[-A-Za-z0-9_@%+=:,./]+$ ]]; then
			arg="'${arg//\'/\'\\\'\'}'"
		fi
		line+="${line:+ }$arg"
	done
	printf '%s\n' "$line" >&3
}

# run prints (dry run) or runs a command.
run() {
	if dry; then
		show "$@"
	else
		"$@"
	fi
}

# ask PLACEHOLDER CMD...: the output of a command that only reads; in a
# dry run the command is printed and PLACEHOLDER stands for its output.
ask() {
	local placeholder=$1
	shift
	if dry; then
		show "$@"
		printf '%s\n' "$placeholder"
	else
		"$@"
	fi
}

# check NAME VALUE REGEX WHAT: refuse a setting that the regex does not match.
check() {
	if ! [[ $2 =~ $3 ]]; then
		die "$1=$(printf '%q' "$2") is not valid: $4"
	fi
}

check_group() {
	check RESOURCE_GROUP "$RESOURCE_GROUP" '^[A-Za-z0-9_.()]([-A-Za-z0-9_.()]{0,88}[-A-Za-z0-9_()])?$' \
		'1-90 letters, digits, _ - . ( ), not starting with a hyphen or ending with a period'
}

check_user() {
	check ADMIN_USER "$ADMIN_USER" '^[a-z_][a-z0-9_-]{0,31}$' \
		'a Linux user name: lower-case letters, digits, _ and -, at most 32'
}

check_common() {
	check_group
	check VM_NAME "$VM_NAME" '^[A-Za-z0-9]([-A-Za-z0-9]{0,62}[A-Za-z0-9])?$' \
		'1-64 letters, digits and hyphens, not starting or ending with a hyphen'
	check LOCATION "$LOCATION" '^[a-z0-9]+$' 'an Azure region name such as westeurope (az account list-locations -o table)'
	check VM_SIZE "$VM_SIZE" '^Standard_[A-Za-z0-9_]+$' 'a VM size such as Standard_DC2as_v5'
	check_user
	check PUBLIC_IP "$PUBLIC_IP" '^[01]$' '0 or 1'
	if [ -n "$SSH_SOURCE" ]; then
		check SSH_SOURCE "$SSH_SOURCE" '^(\*|[0-9A-Fa-f.:]+(/[0-9]{1,3})?)$' "an IP address or CIDR, or '*'"
	fi
}

need_az() {
	dry && return
	command -v az >/dev/null 2>&1 ||
		die "the Azure CLI (az) is not installed; see https://learn.microsoft.com/cli/azure/install-azure-cli (or use DRY_RUN=1)"
}

# need_login fails unless az is logged in, and names the subscription used.
need_login() {
	local sub
	if ! sub=$(ask '<subscription>' az account show --query name --output tsv 2>/dev/null); then
		die "az is not logged in: run az login (and az account set --subscription NAME to choose a subscription)"
	fi
	dry || echo "subscription: $sub"
}

# ssh_key_args sets key_args to the SSH key options of az vm create.
ssh_key_args() {
	if [ -n "$SSH_KEY" ]; then
		if ! dry && [ ! -r "$SSH_KEY" ]; then
			die "SSH_KEY=$SSH_KEY: no such readable public key file"
		fi
		key_args=(--ssh-key-values "$SSH_KEY")
	elif [ -f "$HOME/.ssh/id_ed25519.pub" ]; then
		key_args=(--ssh-key-values "$HOME/.ssh/id_ed25519.pub")
	elif [ -f "$HOME/.ssh/id_rsa.pub" ]; then
		key_args=(--ssh-key-values "$HOME/.ssh/id_rsa.pub")
	else
		key_args=(--generate-ssh-keys)
	fi
}

# ssh_source prints the address prefix that may SSH in: SSH_SOURCE, or the
# caller's public IPv4 address as a /32.
ssh_source() {
	if [ -n "$SSH_SOURCE" ]; then
		printf '%s\n' "$SSH_SOURCE"
		return
	fi
	local ip
	if ! ip=$(ask "$MY_IP_PLACEHOLDER" curl -fsS --max-time 10 https://api.ipify.org) ||
		! { dry || [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]]; }; then
		die "could not learn your public IP address from https://api.ipify.org: set SSH_SOURCE=<your address or CIDR> (SSH_SOURCE='*' lets anyone try SSH)"
	fi
	printf '%s/32\n' "$ip"
}

# check_size fails unless LOCATION offers VM_SIZE to this subscription.
check_size() {
	local found
	found=$(ask "$VM_SIZE" az vm list-skus --location "$LOCATION" --size "$VM_SIZE" --resource-type virtualMachines \
		--query '[].name' --output tsv)
	if ! grep -qxF -- "$VM_SIZE" <<<"$found"; then
		die "$VM_SIZE is not offered to your subscription in $LOCATION: choose another LOCATION or VM_SIZE (az vm list-skus --location $LOCATION --size Standard_DC --output table)"
	fi
}

# create_group creates the resource group unless it exists (an existing
# group is used as it is: az group create would replace its tags).
create_group() {
	local exists
	exists=$(ask false az group exists --name "$RESOURCE_GROUP")
	if [ "$exists" = true ]; then
		echo "resource group $RESOURCE_GROUP exists: using it"
		return
	fi
	run az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --tags "$TAG_KEY=$TAG_VALUE" --output none
}

# create_vm creates the CVM unless a VM of that name exists.
create_vm() {
	if ask '' az vm show --resource-group "$RESOURCE_GROUP" --name "$VM_NAME" --query id --output tsv >/dev/null 2>&1 && ! dry; then
		echo "VM $VM_NAME exists in $RESOURCE_GROUP: not created again (make delete first to change its settings)"
		return
	fi
	local key_args ip_args=(--public-ip-address "")
	ssh_key_args
	if [ "$PUBLIC_IP" = 1 ]; then
		ip_args=(--public-ip-sku Standard)
	fi
	run az vm create \
		--resource-group "$RESOURCE_GROUP" \
		--name "$VM_NAME" \
		--location "$LOCATION" \
		--size "$VM_SIZE" \
		--image "$IMAGE_ID" \
		--security-type ConfidentialVM \
		--os-disk-security-encryption-type VMGuestStateOnly \
		--enable-secure-boot true \
		--enable-vtpm true \
		--admin-username "$ADMIN_USER" \
		--authentication-type ssh \
		"${key_args[@]}" \
		--nsg "$VM_NAME-nsg" \
		--nsg-rule NONE \
		"${ip_args[@]}" \
		--output none
}

# allow_ssh lets source (an address prefix) reach port 22 (idempotent: it
# also moves the rule to a new address of the caller).
allow_ssh() {
	run az network nsg rule create \
		--resource-group "$RESOURCE_GROUP" \
		--nsg-name "$VM_NAME-nsg" \
		--name allow-ssh-from-deployer \
		--priority 1000 \
		--direction Inbound \
		--access Allow \
		--protocol Tcp \
		--source-address-prefixes "$1" \
		--destination-port-ranges 22 \
		--output none
}

deploy() {
	check_common
	need_az
	need_login
	local source="" query=privateIps
	if [ "$PUBLIC_IP" = 1 ]; then
		source=$(ssh_source)
		query=publicIps
	fi
	check_size
	create_group
	create_vm
	if [ "$PUBLIC_IP" = 1 ] && ! allow_ssh "$source"; then
		die "could not set the SSH rule of $VM_NAME-nsg (a VM made by an older make deploy has ${VM_NAME}NSG instead: make delete, then deploy again)"
	fi
	local addr
	addr=$(ask '<address>' az vm show --show-details --resource-group "$RESOURCE_GROUP" --name "$VM_NAME" --query "$query" --output tsv)
	dry && return
	[ -n "$addr" ] || die "VM $VM_NAME has no ${query%s} address (deployed with PUBLIC_IP=1 but created without? make delete, then deploy again)"
	done_message "$addr" "$source"
}

done_message() {
	echo "CVM $VM_NAME is up: $ADMIN_USER@$1"
	if [ "$PUBLIC_IP" = 1 ]; then
		if [ "$2" = '*' ]; then
			echo "  SSH is open to anyone (SSH_SOURCE='*'); password login is off"
		else
			echo "  SSH is open to $2 only (SSH_SOURCE; deploy again to move it to your new address)"
		fi
	else
		echo "  a private address: reach it through a bastion or VPN, or deploy with PUBLIC_IP=1"
	fi
	echo "next:"
	echo "  make install-cvm CONFIDENTIAL_VM=$1"
	echo "  ssh $ADMIN_USER@$1 sudo snp-vtpm -p"
}

# group_tag prints the group's createdBy tag (empty when it has none).
group_tag() {
	ask "$TAG_VALUE" az group show --name "$RESOURCE_GROUP" --query "tags.$TAG_KEY" --output tsv
}

# confirm_delete asks before deleting; YES=1 answers for the user. A group
# without this script's tag is deleted only with YES=1.
confirm_delete() {
	local tag
	tag=$(group_tag)
	if [ "$tag" != "$TAG_VALUE" ] && [ "$YES" != 1 ]; then
		die "resource group $RESOURCE_GROUP was not created by make deploy (no tag $TAG_KEY=$TAG_VALUE): delete it with YES=1 if you are sure"
	fi
	if dry; then
		run az resource list --resource-group "$RESOURCE_GROUP" --query "[].[type, name]" --output tsv
		return
	fi
	echo "resource group $RESOURCE_GROUP holds:"
	az resource list --resource-group "$RESOURCE_GROUP" --query "[].[type, name]" --output tsv | sed 's/^/  /'
	[ "$YES" = 1 ] && return
	local answer=""
	printf 'delete resource group %s and everything in it? [y/N] ' "$RESOURCE_GROUP"
	read -r answer || true
	case "$answer" in
	y | Y | yes | YES) ;;
	*) die "not deleted" ;;
	esac
}

delete() {
	check_group
	check YES "$YES" '^[01]$' '0 or 1'
	need_az
	need_login
	local exists
	exists=$(ask true az group exists --name "$RESOURCE_GROUP")
	if [ "$exists" != true ]; then
		echo "resource group $RESOURCE_GROUP does not exist: nothing to delete"
		return
	fi
	confirm_delete
	run az group delete --name "$RESOURCE_GROUP" --yes --no-wait
	dry || echo "deleting resource group $RESOURCE_GROUP in the background (az group show --name $RESOURCE_GROUP to follow)"
}

install() {
	[ -n "$CONFIDENTIAL_VM" ] || die "set CONFIDENTIAL_VM=<address of the CVM> (printed by make deploy)"
	check CONFIDENTIAL_VM "$CONFIDENTIAL_VM" '^([A-Za-z0-9][-A-Za-z0-9.]*|\[[0-9A-Fa-f:]+\])$' 'a host name or IP address'
	check_user
	local bin="$BIN/snp-vtpm" host="$ADMIN_USER@$CONFIDENTIAL_VM"
	if ! dry && [ ! -f "$bin" ]; then
		die "$bin does not exist: run make build (make install-cvm does)"
	fi
	run scp -- "$bin" "$host:snp-vtpm"
	# The vTPM's /dev/tpmrm0 is listed so that its owner and group show.
	run ssh -- "$host" 'sudo install -m 0755 snp-vtpm /usr/local/bin/snp-vtpm && rm -f snp-vtpm && { ls -l /dev/tpmrm0 || echo "no /dev/tpmrm0: this VM has no vTPM"; }'
	dry && return
	echo "installed /usr/local/bin/snp-vtpm on $CONFIDENTIAL_VM; next:"
	echo "  ssh $host sudo snp-vtpm -p"
	echo "  (/dev/tpmrm0 needs root; without sudo only if it belongs to a group of yours, such as tss: sudo usermod -aG tss $ADMIN_USER, then log in again)"
}

check DRY_RUN "$DRY_RUN" '^[01]$' '0 or 1'
case "${1:-}" in
deploy) deploy ;;
delete) delete ;;
install) install ;;
*)
	echo "usage: $0 deploy|delete|install (settings: see the top of this script)" >&2
	exit 2
	;;
esac
