#!/usr/bin/env node
import { launch } from './launch.js';
await launch('daemon/main.js');
