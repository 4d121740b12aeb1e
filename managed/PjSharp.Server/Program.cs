using System.CommandLine;
using PjSharp.Server;

var root = new RootCommand("pjsharp: a SIP server on pjsip for .NET");
root.Subcommands.Add(ServeCommand.Create());
return await root.Parse(args).InvokeAsync();
