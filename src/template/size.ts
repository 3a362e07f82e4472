// Disk sizes and offsets as templates write them: the toolkit's one size
// reading (src/units/size.ts), kept here under the name template code uses.
export { formatSize, parseSize, sizeProblem } from '../units/size.js';
