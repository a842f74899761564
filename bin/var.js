'use strict';
if (process.env.PPFLAG) require('node:v8').setFlagsFromString(process.env.PPFLAG);
if (process.env.PPLATE) setTimeout(() => require('node:v8').setFlagsFromString(process.env.PPLATE), Number(process.env.PPLATEMS)).unref();
import('../dist/main.js');
