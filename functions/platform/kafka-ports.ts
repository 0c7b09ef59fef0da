/**
 * The Kafka broker's listeners on its VM, derived from the topology's `kafka.port`: one rule shared by
 * the orchestrations (which ports the VM opens) and the adapter (how the container is run).
 * - internal (`kafka.port`): what the platform's services use, advertised at the VM's private address;
 * - controller (`kafka.port + 1`): KRaft's own quorum traffic, inside the container only;
 * - external (`kafka.port + 2`): what the function app uses (topic creation), advertised at the address
 *   it reaches the VM at (the public IP on Azure). Kafka hands every client the addresses of the
 *   listener it came in on, so each side is told an address it can actually reach.
 */
export interface KafkaPorts {
  internal: number;
  controller: number;
  external: number;
}

export function kafkaPorts(port: number): KafkaPorts {
  if (!Number.isInteger(port) || port < 1 || port + 2 > 65535) {
    throw new Error(`kafka.port ${port} leaves no room for the broker's controller and external listeners (port + 1, port + 2): use a port below 65534`);
  }
  return { internal: port, controller: port + 1, external: port + 2 };
}
