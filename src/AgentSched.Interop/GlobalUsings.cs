global using System.Runtime.CompilerServices;
global using System.Runtime.InteropServices;
