// ollama_render: render an Ollama Modelfile TEMPLATE the way the Ollama server does, with Go's text/template.
//
// stdin: {"template": "...", "system": "<the Modelfile SYSTEM, or empty>", "messages": [{"role": ..., "content": ...}]}
// stdout: the rendered prompt, exactly.
//
// Mirrors Ollama (server/routes.go ChatHandler, template/template.go Execute and collate):
//   - the Modelfile SYSTEM is prepended as a system message when the first message is not a system message;
//   - consecutive messages of one role are merged ("\n\n"); all system contents, joined by "\n\n", are .System;
//   - a template that uses .Messages is executed with .System, .Messages (each with .Role, .Content), .Tools,
//     .Response = "" (the generation prompt is the template's own tail);
//   - the template is parsed with Option("missingkey=zero") and Ollama's `json` function.
// Templates without .Messages take Ollama's legacy path, which is not mirrored here: exit status 3.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/template"
	"text/template/parse"
)

type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type Input struct {
	Template string    `json:"template"`
	System   string    `json:"system"`
	Messages []Message `json:"messages"`
}

func collate(msgs []Message) (string, []*Message) {
	var system []string
	var collated []*Message
	for i := range msgs {
		msg := msgs[i]
		if msg.Role == "system" {
			system = append(system, msg.Content)
		}
		if len(collated) > 0 && collated[len(collated)-1].Role == msg.Role {
			collated[len(collated)-1].Content += "\n\n" + msg.Content
		} else {
			collated = append(collated, &msg)
		}
	}
	return strings.Join(system, "\n\n"), collated
}

// usesMessages walks the parse tree like Ollama's Template.Vars: is .Messages referenced?
func usesMessages(node parse.Node) bool {
	switch n := node.(type) {
	case *parse.ListNode:
		if n == nil {
			return false
		}
		for _, c := range n.Nodes {
			if usesMessages(c) {
				return true
			}
		}
	case *parse.ActionNode:
		return usesMessages(n.Pipe)
	case *parse.PipeNode:
		for _, c := range n.Cmds {
			if usesMessages(c) {
				return true
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			if usesMessages(a) {
				return true
			}
		}
	case *parse.FieldNode:
		return len(n.Ident) > 0 && strings.ToLower(n.Ident[0]) == "messages"
	case *parse.IfNode:
		return usesMessages(n.Pipe) || usesMessages(n.List) || (n.ElseList != nil && usesMessages(n.ElseList))
	case *parse.RangeNode:
		return usesMessages(n.Pipe) || usesMessages(n.List) || (n.ElseList != nil && usesMessages(n.ElseList))
	case *parse.WithNode:
		return usesMessages(n.Pipe) || usesMessages(n.List) || (n.ElseList != nil && usesMessages(n.ElseList))
	}
	return false
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var in Input
	if err := json.Unmarshal(raw, &in); err != nil {
		fmt.Fprintln(os.Stderr, "bad input JSON:", err)
		os.Exit(1)
	}
	funcs := template.FuncMap{"json": func(v any) string { b, _ := json.Marshal(v); return string(b) }}
	tmpl, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(in.Template)
	if err != nil {
		fmt.Fprintln(os.Stderr, "template parse error:", err)
		os.Exit(2)
	}
	if !usesMessages(tmpl.Tree.Root) {
		fmt.Fprintln(os.Stderr, "template does not use .Messages (Ollama's legacy path is not mirrored)")
		os.Exit(3)
	}
	msgs := in.Messages
	if in.System != "" && (len(msgs) == 0 || msgs[0].Role != "system") {
		msgs = append([]Message{{Role: "system", Content: in.System}}, msgs...)
	}
	system, collated := collate(msgs)
	err = tmpl.Execute(os.Stdout, map[string]any{"System": system, "Messages": collated, "Tools": nil, "Response": ""})
	if err != nil {
		fmt.Fprintln(os.Stderr, "template execute error:", err)
		os.Exit(4)
	}
}
