using System.CommandLine;
using System.CommandLine.Help;
using PjSharp.Server;
using PjSharp.Server.Commands;

// Named as users type it, whatever the file that hosts it is called.
var root = new Command("pjsharp", "pjsharp: a SIP server on pjsip for .NET") { new HelpOption(), new VersionOption() };
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(ConfigCommands.CreateCheckConfigCommand());
root.Subcommands.Add(ConfigCommands.CreateShowCommand());
root.Subcommands.Add(TraceCommand.Create());
root.Subcommands.Add(DatabaseCommands.Create());
return await root.Parse(args).InvokeAsync();
