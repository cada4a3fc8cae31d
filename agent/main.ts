// main.ts: placeholder entry point; replaced as the modules land.
console.log('nodewarden: not built yet');
