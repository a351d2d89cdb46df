/*
 * The virtual LAN: where the device's addresses land on the host. By default (sandbox) every
 * IPv4 address maps to 127.0.0.1 with its port unchanged, so a program with the tutorials' LAN
 * addresses runs as is and never sends a packet off the machine. Remap rules pick hosts and
 * ports; UPYSOCK_NET=host lets addresses without a rule through to real networks.
 */
#ifndef UPYSOCK_VNET_H
#define UPYSOCK_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/host.h"
#include "upysock/usocket.h"

/* Parse a device address tuple the firmware's way: a dotted quad ("" = 0.0.0.0) and a port.
 * Anything else → a code (UPY__E_INVALID_ARGS: ValueError("invalid arguments")). */
int vnet_parse(const usocket_addr *addr, uint32_t *ip, int *port);

/* The host endpoint for a device endpoint (bind, connect, sendto), and the device endpoint in
 * numbers (device may be NULL). A code for a bad address. */
int vnet_map_out(const usocket_addr *addr, host_addr *out, host_addr *device);

/* The host interface for the interface address a multicast option names (IP_ADD_MEMBERSHIP,
 * IP_DROP_MEMBERSHIP, IP_MULTICAST_IF; host order): in sandbox mode always loopback, so no group
 * is ever joined, nor multicast sent, on a real interface; in host mode the address itself. */
uint32_t vnet_map_interface(uint32_t ip);

/* The device view of a host endpoint (accept peers, recvfrom sources): rules read backwards.
 * Returned in numbers, and formatted into *out (may be NULL). */
host_addr vnet_map_in(host_addr host, usocket_addr *out);

/* getaddrinfo's answer for (host, port): the address a device program then connects to; 0 or a
 * code. */
int vnet_resolve(const char *host, int port, usocket_addr *out);

/* Format an IPv4 address (host order) as a dotted quad. */
void vnet_format_ip(uint32_t ip, char out[16]);

/* A device file path on the host: "/flash/x" → "<flash dir>/x", anything else as is.
 * snprintf-style (upy_config_map_path). */
size_t vnet_map_path(const char *path, char *out, size_t size);

/* The board's own address (UPYSOCK_DEVICE_IP; host order): WLAN.ifconfig() and the pcap. */
uint32_t vnet_device_ip(void);

/* One line to the virtual LAN log, if one is configured ("connect a -> b"). */
void vnet_log(const char *verb, const usocket_addr *device, host_addr host);

#endif
