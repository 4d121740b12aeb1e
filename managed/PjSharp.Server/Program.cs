using System.CommandLine;
using PjSharp.Server;
using PjSharp.Server.Commands;

var root = new RootCommand("pjsharp: a SIP server on pjsip for .NET");
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(ConfigCommands.CreateCheckConfigCommand());
root.Subcommands.Add(ConfigCommands.CreateShowCommand());
return await root.Parse(args).InvokeAsync();
