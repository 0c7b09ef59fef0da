/**
 * Builds the local VMs' base images into the project cache (debootstrap of Debian bookworm once
 * per machine, the node layer, the Kafka image), so the first `npm start` or test run does not pay.
 */
import { debianLayer, nodeLayer } from '../local/azure/vm/images.js';
import { kafkaStandInImage } from '../local/azure/vm/kafka-standin/image.js';

const t0 = Date.now();
await debianLayer((line) => console.log(line));
await nodeLayer();
await kafkaStandInImage();
console.log(`base images ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
