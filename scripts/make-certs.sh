#!/usr/bin/env bash
# make-certs.sh DIR — make the certificates the TLS tutorial needs, in DIR (created if missing):
# a throw-away CA, a server certificate and the client certificate tutorial 3 loads. Point
# UPYSOCK_FLASH at DIR's parent when DIR is <flash>/cert, and the device paths resolve:
#
#   /flash/cert/my_CA_cert.pem       the CA (ca_certs= on both sides)
#   /flash/cert/my_public_key.pem    client certificate (tutorial 3's certfile=)
#   /flash/cert/my_private_key.pem   client key         (tutorial 3's keyfile=)
#   /flash/cert/server_cert.pem      server certificate, for 192.168.0.234, 127.0.0.1, localhost
#   /flash/cert/server_key.pem       server key
#
# ECDSA P-256 keys, unencrypted PEM (the device reads PEM only, without a password), valid for
# 30 days. The CA's key is thrown away. Generated material never belongs in git: make it where it
# is used (a temporary directory) and delete it afterwards.
set -euo pipefail

dir=${1:?usage: make-certs.sh DIR}
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${newkey[@]}" -keyout "$work/ca_key.pem" -out "$dir/my_CA_cert.pem" \
  -days 30 -subj "/CN=upysock demo CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# sign NAME SUBJECT EXTENSIONS: a key and a CA-signed certificate.
sign() {
  local key=$1 cert=$2 subject=$3 ext=$4
  openssl req -new "${newkey[@]}" -keyout "$dir/$key" -out "$work/req.pem" -subj "$subject" 2>/dev/null
  printf '%s\n' "$ext" >"$work/ext.cnf"
  openssl x509 -req -in "$work/req.pem" -CA "$dir/my_CA_cert.pem" -CAkey "$work/ca_key.pem" \
    -set_serial "0x$(openssl rand -hex 8)" -days 30 -extfile "$work/ext.cnf" -out "$dir/$cert" 2>/dev/null
}
sign server_key.pem server_cert.pem "/CN=192.168.0.234" \
  "subjectAltName=IP:192.168.0.234,IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
sign my_private_key.pem my_public_key.pem "/CN=upysock tutorial client" "extendedKeyUsage=clientAuth"

openssl verify -CAfile "$dir/my_CA_cert.pem" "$dir/server_cert.pem" "$dir/my_public_key.pem" >/dev/null
