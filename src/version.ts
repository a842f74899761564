/** pollpray's version, a leaf module: `pollpray --version` prints it without loading commander. */
export const VERSION = '0.1.0';
