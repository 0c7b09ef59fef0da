/**
 * Builds the local VMs' base images into the project cache (debootstrap of Debian bookworm once
 * per machine, the node layer, Apache Kafka's image from Maven Central's jars and a Debian JRE), so the first `npm start` or test run does not pay.
 */
import { debianLayer, nodeLayer } from '../local/azure/vm/images.js';
import { kafkaImage } from '../local/images/kafka/index.js';

const t0 = Date.now();
await debianLayer((line) => console.log(line));
await nodeLayer();
await kafkaImage((line) => console.log(line));
console.log(`base images ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
